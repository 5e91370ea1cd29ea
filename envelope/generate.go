package envelope

// The generated envelope.pb.go is committed; see update/generate.go for the
// tools (protoc and protoc-gen-go at the version in go.mod).
//
//go:generate sh -c "cd .. && protoc -I . --go_out=. --go_opt=paths=source_relative envelope/envelope.proto"
