//! SMPP 3.4 `command_status` values a proxy needs (section 5.1.3).

/// No error.
pub const ESME_ROK: u32 = 0x0000_0000;
/// Message length is invalid.
pub const ESME_RINVMSGLEN: u32 = 0x0000_0001;
/// Command length is invalid.
pub const ESME_RINVCMDLEN: u32 = 0x0000_0002;
/// Invalid command id.
pub const ESME_RINVCMDID: u32 = 0x0000_0003;
/// Incorrect bind status for the given command.
pub const ESME_RINVBNDSTS: u32 = 0x0000_0004;
/// ESME already in bound state.
pub const ESME_RALYBND: u32 = 0x0000_0005;
/// System error.
pub const ESME_RSYSERR: u32 = 0x0000_0008;
/// Invalid source address.
pub const ESME_RINVSRCADR: u32 = 0x0000_000A;
/// Invalid destination address.
pub const ESME_RINVDSTADR: u32 = 0x0000_000B;
/// Bind failed.
pub const ESME_RBINDFAIL: u32 = 0x0000_000D;
/// Invalid password.
pub const ESME_RINVPASWD: u32 = 0x0000_000E;
/// Message queue full.
pub const ESME_RMSGQFUL: u32 = 0x0000_0014;
/// Invalid esm_class field data (e.g. UDHI set without a valid UDH).
pub const ESME_RINVESMCLASS: u32 = 0x0000_0043;
/// replace_sm failed.
pub const ESME_RREPLACEFAIL: u32 = 0x0000_0013;
/// submit_sm or submit_multi failed (the usual status of a message refused by a filter).
pub const ESME_RSUBMITFAIL: u32 = 0x0000_0045;
/// Invalid number of destinations.
pub const ESME_RINVNUMDESTS: u32 = 0x0000_0033;
/// Throttling error (ESME exceeded allowed message limits).
pub const ESME_RTHROTTLED: u32 = 0x0000_0058;
/// Invalid optional parameter value (e.g. message_payload given twice).
pub const ESME_RINVOPTPARAMVAL: u32 = 0x0000_00C4;
/// Optional parameter (TLV) stream error / both payload fields present.
pub const ESME_RINVTLVSTREAM: u32 = 0x0000_00C0;
/// Invalid optional parameter length.
pub const ESME_RINVTLVLEN: u32 = 0x0000_00C2;
/// Delivery failure (used for data_sm_resp and for blocked messages).
pub const ESME_RDELIVERYFAILURE: u32 = 0x0000_00FE;
/// Unknown error.
pub const ESME_RUNKNOWNERR: u32 = 0x0000_00FF;
