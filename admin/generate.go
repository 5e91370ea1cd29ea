package admin

// The generated admin.pb.go is committed; see update/generate.go for the
// tools. Run from the repository root, since admin.proto imports
// update/update.proto and update/manager/manager.proto:
//
//go:generate sh -c "cd .. && protoc -I . --go_out=. --go_opt=paths=source_relative admin/admin.proto"
