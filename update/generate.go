package update

// The generated update.pb.go is committed; the build never needs protoc.
// To regenerate after editing update.proto you need protoc (Debian:
// apt-get install protobuf-compiler) and protoc-gen-go at the version in
// go.mod (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
// protoc runs from the repository root so that the file is registered as
// update/update.proto, the path other .proto files import it by:
//
//go:generate sh -c "cd .. && protoc -I . --go_out=. --go_opt=paths=source_relative update/update.proto"
