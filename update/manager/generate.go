package manager

// The generated manager.pb.go is committed; see update/generate.go for the
// tools. Run from the repository root, since manager.proto imports
// update/update.proto:
//
//go:generate sh -c "cd ../.. && protoc -I . --go_out=. --go_opt=paths=source_relative update/manager/manager.proto"
