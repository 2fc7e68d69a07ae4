//! Generates the gRPC code from `proto/psp_gateway.proto` (DOCA's schema)
//! and `proto/psp_gateway_ext.proto` (our session service) without a system
//! `protoc`: protox (a protobuf compiler in Rust) parses the file into a
//! `FileDescriptorSet`, which tonic-prost-build turns into prost messages
//! and the tonic client and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/psp_gateway.proto", "proto/psp_gateway_ext.proto"];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // TunnelParameters carries a key: its Debug is written by hand,
        // redacted, in src/lib.rs.
        .skip_debug(["psp_gateway.TunnelParameters"])
        .compile_fds(fds)?;
    Ok(())
}
