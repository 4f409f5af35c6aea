"""Salesforce's Pub/Sub API (gRPC): the wire (`pubsub_api.proto` and its generated stubs,
committed; regenerate with `python -m grpc_tools.protoc -I. --python_out=. --pyi_out=.
--grpc_python_out=. app/salesforce/pubsub/pubsub_api.proto`), Avro payload decoding and
changed-field bitmaps (`events`), and the typed client (`client`)."""
