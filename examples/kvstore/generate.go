package main

// The generated kvstore.pb.go is committed; see update/generate.go for the
// tools (protoc and protoc-gen-go at the version in go.mod). protoc runs
// from the repository root, so that the file is registered as
// examples/kvstore/kvstore.proto.
//
//go:generate sh -c "cd ../.. && protoc -I . --go_out=. --go_opt=paths=source_relative examples/kvstore/kvstore.proto"
