//! Identifiers and quantities every other module shares: nodes, channels, hashes and simulated
//! time. This module owns their construction, ordering and formatting, and hashing a preimage; it
//! knows nothing of what a channel or a payment does.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A node, by its dense index in the simulated network (0, 1, 2, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index, for `Vec`s indexed by node.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.0)
    }
}

/// Simulated time in microseconds since the start of a run. It advances only when the simulator
/// pops the next event.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of a run.
    pub const ZERO: SimTime = SimTime(0);

    /// `secs` seconds after the start.
    pub const fn from_secs(secs: u64) -> SimTime {
        SimTime(secs * 1_000_000)
    }

    /// `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms * 1_000)
    }

    /// Microseconds since the start.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole seconds since the start (rounded down).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The end of time: what a time that would not fit in u64 µs (over 584,000 years) becomes.
    pub const NEVER: SimTime = SimTime(u64::MAX);

    /// This time plus `us` microseconds, saturating at [`SimTime::NEVER`] (a run's horizon is at
    /// most ten years, so a saturated time is one the run never reaches).
    pub fn plus_micros(self, us: u64) -> SimTime {
        SimTime(self.0.saturating_add(us))
    }

    /// This time plus `secs` seconds, saturating like [`SimTime::plus_micros`].
    pub fn plus_secs(self, secs: u64) -> SimTime {
        self.plus_micros(secs.saturating_mul(1_000_000))
    }

    /// Microseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn micros_since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// A short_channel_id (BOLT 7): the funding output's block height, transaction index in that
/// block and output index, packed as 3 + 3 + 2 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Scid(pub u64);

impl Scid {
    /// Packs a block height, a transaction index (24 bits) and an output index.
    pub fn new(block_height: u32, tx_index: u32, output_index: u16) -> Scid {
        assert!(block_height < (1 << 24), "invariant: block height fits in 24 bits");
        assert!(tx_index < (1 << 24), "invariant: transaction index fits in 24 bits");
        Scid(
            (u64::from(block_height) << 40) | (u64::from(tx_index) << 16) | u64::from(output_index),
        )
    }

    /// The height of the block that holds the funding transaction.
    pub fn block_height(self) -> u32 {
        (self.0 >> 40) as u32
    }

    /// The funding transaction's index in its block.
    pub fn tx_index(self) -> u32 {
        ((self.0 >> 16) & 0xFF_FFFF) as u32
    }

    /// The funding output's index in its transaction.
    pub fn output_index(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

impl fmt::Display for Scid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.block_height(), self.tx_index(), self.output_index())
    }
}

/// A channel as its two peers name it in messages (BOLT 2 `channel_id`). Before the funding
/// transaction is known it is the opener's temporary id; afterwards it is derived from the funding
/// outpoint (here: the funding txid's last 8 bytes XOR the output index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChannelId(pub u64);

impl ChannelId {
    /// The permanent id of the channel funded by output `vout` of `txid`.
    pub fn from_funding(txid: &Txid, vout: u32) -> ChannelId {
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&txid.0[24..32]);
        ChannelId(u64::from_be_bytes(tail) ^ u64::from(vout))
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

macro_rules! hash32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The first 8 bytes as a big-endian integer: a short, stable key for traces.
            pub fn short(&self) -> u64 {
                let mut head = [0u8; 8];
                head.copy_from_slice(&self.0[..8]);
                u64::from_be_bytes(head)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for byte in &self.0 {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:016x})", stringify!($name), self.short())
            }
        }
    };
}

hash32!(
    /// SHA-256 of a [`Preimage`]: what an HTLC is locked to.
    PaymentHash
);
hash32!(
    /// The secret whose hash locks an HTLC; revealing it settles the payment.
    Preimage
);
hash32!(
    /// The BOLT 11 `payment_secret` the payer puts in the final hop's payload.
    PaymentSecret
);
hash32!(
    /// A transaction id: SHA-256 of the transaction's canonical encoding.
    Txid
);

impl Preimage {
    /// The payment hash this preimage unlocks.
    pub fn payment_hash(&self) -> PaymentHash {
        PaymentHash(sha256(&self.0))
    }
}

/// SplitMix64's step and finaliser: a fast, fixed mixing function, for values that must look
/// random but follow from their inputs alone (Core Lightning's fee fuzz, Eclair's route pick,
/// which channels an incomplete view starts without). Not a random stream of its own.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scid_packs_and_unpacks() {
        let scid = Scid::new(928_335, 1, 0);
        assert_eq!(scid.block_height(), 928_335);
        assert_eq!(scid.tx_index(), 1);
        assert_eq!(scid.output_index(), 0);
        assert_eq!(scid.to_string(), "928335x1x0");
        assert!(Scid::new(1, 0, 5) < Scid::new(1, 1, 0));
    }

    #[test]
    fn preimage_hash_is_sha256() {
        // SHA-256 of 32 zero bytes.
        let hash = Preimage([0; 32]).payment_hash();
        assert_eq!(
            hash.to_string(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn time_formats_in_seconds() {
        assert_eq!(SimTime::from_millis(1_500).to_string(), "1.500000s");
        assert_eq!(SimTime::from_secs(2).micros_since(SimTime::from_secs(3)), 0);
    }
}
