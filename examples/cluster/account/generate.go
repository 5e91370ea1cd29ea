package account

// The generated account.pb.go is committed; see update/generate.go for the
// tools (protoc and protoc-gen-go at the version in go.mod). protoc runs
// from the repository root, so that the file is registered as
// examples/cluster/account/account.proto.
//
//go:generate sh -c "cd ../../.. && protoc -I . --go_out=. --go_opt=paths=source_relative examples/cluster/account/account.proto"
