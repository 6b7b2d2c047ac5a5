//! Forwarding policy of one channel direction (BOLT 7 `channel_update`): the fee a node charges to
//! forward over its side of a channel, the CLTV delta it requires and the HTLC amounts it accepts.
//! This module owns the fee arithmetic; it does not decide whether a given HTLC is forwarded (the
//! node does, with the channel's liquidity).

use serde::{Deserialize, Serialize};

/// What a node asks to forward over its side of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelPolicy {
    /// Fixed part of the fee, msat.
    pub fee_base_msat: u32,
    /// Proportional part of the fee, millionths of the forwarded amount.
    pub fee_proportional_millionths: u32,
    /// Blocks the incoming HTLC must expire after the outgoing one.
    pub cltv_expiry_delta: u16,
    /// Smallest HTLC forwarded, msat.
    pub htlc_minimum_msat: u64,
    /// Largest HTLC forwarded, msat.
    pub htlc_maximum_msat: u64,
}

impl ChannelPolicy {
    /// The fee for forwarding `amount_to_forward_msat` (BOLT 7):
    /// `fee_base_msat + amount_to_forward_msat * fee_proportional_millionths / 1_000_000`,
    /// rounded down.
    pub fn fee_msat(&self, amount_to_forward_msat: u64) -> u64 {
        let ppm = u64::from(self.fee_proportional_millionths);
        // The product fits in u64 for every amount below 4,294 BTC at any rate; the wide path
        // (saturating: such a fee exceeds all bitcoin anyway) is for the rest.
        let proportional = match amount_to_forward_msat.checked_mul(ppm) {
            Some(product) => product / 1_000_000,
            None => u64::try_from(u128::from(amount_to_forward_msat) * u128::from(ppm) / 1_000_000)
                .unwrap_or(u64::MAX),
        };
        u64::from(self.fee_base_msat).saturating_add(proportional)
    }

    /// Whether this direction forwards an HTLC of `amount_msat` at all.
    pub fn admits(&self, amount_msat: u64) -> bool {
        self.htlc_minimum_msat <= amount_msat && amount_msat <= self.htlc_maximum_msat
    }
}

/// A change of a node's forwarding policy on some of its channels, as `lncli updatechanpolicy`
/// or Core Lightning's `setchannel` make it; absent fields keep their value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyChange {
    /// New fixed fee, msat.
    pub fee_base_msat: Option<u32>,
    /// New proportional fee, millionths.
    pub fee_proportional_millionths: Option<u32>,
    /// New CLTV delta, blocks.
    pub cltv_expiry_delta: Option<u16>,
    /// Disable (true) or enable (false) forwarding over the channels.
    pub disabled: Option<bool>,
}

impl PolicyChange {
    /// `policy` with the change applied (the `disabled` flag is not part of a policy).
    pub fn apply(&self, policy: ChannelPolicy) -> ChannelPolicy {
        ChannelPolicy {
            fee_base_msat: self.fee_base_msat.unwrap_or(policy.fee_base_msat),
            fee_proportional_millionths: self
                .fee_proportional_millionths
                .unwrap_or(policy.fee_proportional_millionths),
            cltv_expiry_delta: self.cltv_expiry_delta.unwrap_or(policy.cltv_expiry_delta),
            ..policy
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base: u32, ppm: u32) -> ChannelPolicy {
        ChannelPolicy {
            fee_base_msat: base,
            fee_proportional_millionths: ppm,
            cltv_expiry_delta: 40,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: u64::MAX,
        }
    }

    #[test]
    fn fee_is_base_plus_proportional_rounded_down() {
        assert_eq!(policy(1_000, 1).fee_msat(100_000), 1_000);
        assert_eq!(policy(1_000, 1).fee_msat(1_000_000), 1_001);
        assert_eq!(policy(0, 100).fee_msat(9_999), 0);
        assert_eq!(policy(0, 100).fee_msat(10_000), 1);
        assert_eq!(policy(1, 2_500).fee_msat(1_000_000_000), 2_500_001);
    }

    #[test]
    fn fee_does_not_overflow_on_huge_amounts() {
        assert_eq!(policy(0, 1_000_000).fee_msat(u64::MAX), u64::MAX);
    }

    #[test]
    fn admits_the_inclusive_range() {
        let mut p = policy(0, 0);
        p.htlc_minimum_msat = 10;
        p.htlc_maximum_msat = 20;
        assert!(!p.admits(9));
        assert!(p.admits(10));
        assert!(p.admits(20));
        assert!(!p.admits(21));
    }
}
