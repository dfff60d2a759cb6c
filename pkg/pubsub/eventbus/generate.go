package eventbus

// The stubs are committed, so building needs no protoc. To regenerate them
// (protoc from Debian's protobuf-compiler, protoc-gen-go v1.36.12 and
// protoc-gen-go-grpc v1.5.1 on PATH):
//
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative pubsub_api.proto
