package takeover

// The generated takeover.pb.go is committed; see update/generate.go for the
// tools. Run from the repository root, since takeover.proto imports
// envelope/envelope.proto and update/update.proto:
//
//go:generate sh -c "cd .. && protoc -I . --go_out=. --go_opt=paths=source_relative takeover/takeover.proto"
