package cluster

// The generated handover.pb.go is committed; see update/generate.go for the
// tools. Run from the repository root, since handover.proto imports
// envelope/envelope.proto and update/update.proto:
//
//go:generate sh -c "cd .. && protoc -I . --go_out=. --go_opt=paths=source_relative cluster/handover.proto"
