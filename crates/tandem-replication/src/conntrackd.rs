//! conntrackd's sync messages (conntrack-tools `include/network.h`): the
//! network header, the attribute (TLV) format, and the FT-FW and NOTRACK
//! exchanges, so that a unit can receive from and send to a conntrackd peer.
