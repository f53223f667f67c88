//! The police centre's gRPC contract, `interdict.v1`, generated from `proto/interdict/v1` at
//! build time: messages (prost), clients and servers (tonic), and the encoded file descriptor
//! set for server reflection. The gateway converts its own records to these wire types at
//! its edge (`interdict::feed`); the domain types are not the wire schema.

/// Package `interdict.v1`: the decision feed, rules, stats.
#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod v1 {
    tonic::include_proto!("interdict.v1");
}

/// The encoded `FileDescriptorSet` of `interdict.v1` (for tonic-reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/interdict_descriptor.bin"));
