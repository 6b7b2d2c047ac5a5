//! A node's settings: what it declares when it opens or accepts a channel, the forwarding policy
//! it announces, and how it invoices and pays. Defaults come in presets named after the
//! implementation and version they are read from; a scenario starts from a preset and overrides
//! single fields. This module holds values only; the channel and node modules apply them.

use crate::policy::ChannelPolicy;
use crate::router::{
    RouterConfig, cln::ClnParams, eclair::EclairParams, ldk::LdkParams, lnd::LndParams,
};
use serde::{Deserialize, Serialize};

/// The implementation a preset is taken from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Implementation {
    /// lnd 0.18/0.19 (`chainreg/chainregistry.go`, `server.go`, `lnwallet/parameters.go`).
    #[default]
    Lnd,
    /// Core Lightning 24.11 (`lightningd/options.c`, `plugins/pay.c`).
    Cln,
    /// LDK 0.1 (`lightning/src/util/config.rs`).
    Ldk,
    /// Eclair 0.13 (`eclair-core/src/main/resources/reference.conf`).
    Eclair,
}

/// The most a channel may hold in dust HTLCs (those trimmed from either commitment, whose value
/// goes to miners if the channel closes): an HTLC that would take it above is refused with
/// `temporary_channel_failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DustExposure {
    /// A fixed limit, msat.
    Fixed(u64),
    /// This many msat per sat/kw of the channel's fee rate (LDK's
    /// `MaxDustHTLCExposure::FeeRateMultiplier`).
    FeeRateMultiplier(u64),
}

impl DustExposure {
    /// The limit at `feerate_per_kw`, msat.
    pub fn limit_msat(self, feerate_per_kw: u32) -> u64 {
        match self {
            DustExposure::Fixed(msat) => msat,
            DustExposure::FeeRateMultiplier(k) => k.saturating_mul(u64::from(feerate_per_kw)),
        }
    }
}

/// The BOLT 4 code a forwarder gives when the outgoing channel's peer is not connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfflinePeerFailure {
    /// `temporary_channel_failure` (Core Lightning `lightningd/peer_htlcs.c`; Eclair, not
    /// confirmed from source).
    TemporaryChannelFailure,
    /// `unknown_next_peer`: lnd 0.18 removes a peer's links when it disconnects, and the switch
    /// finds no link for the channel (`htlcswitch/switch.go`, `FailUnknownNextPeer`).
    UnknownNextPeer,
    /// `temporary_channel_failure` until the channel is announced disabled, `channel_disabled`
    /// after (LDK 0.1, `ln/channelmanager.rs`, `can_forward_htlc`).
    DisabledOnceAnnounced,
}

/// What a node declares for the channels it opens or accepts (BOLT 2 `open_channel` and
/// `accept_channel`). Limits constrain the peer: the reserve is what the peer must keep, the
/// HTLC limits are on the HTLCs the peer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    /// Outputs below this are left out of this node's commitment transactions, sat.
    pub dust_limit_sat: u64,
    /// Reserve the peer must keep, millionths of the funding (10_000 = 1%); never below either
    /// side's dust limit.
    pub reserve_ppm: u32,
    /// Smallest HTLC this node accepts, msat.
    pub htlc_minimum_msat: u64,
    /// Cap on the HTLCs in flight toward this node, percent of the funding.
    pub max_htlc_value_in_flight_percent: u8,
    /// Most HTLCs in flight toward this node (spec ceiling 483).
    pub max_accepted_htlcs: u16,
    /// Blocks the peer must wait to spend its own output after a unilateral close.
    pub to_self_delay_blocks: u16,
    /// Confirmations this node waits for before a channel it accepted is usable.
    pub minimum_depth: u32,
    /// Supports `option_anchors_zero_fee_htlc_tx` (a channel has anchors if both ends do): lnd
    /// since 0.12 (`feature/default_sets.go`, `lncfg/protocol.go`); Core Lightning since 24.08
    /// (`experimental-anchors` became the default; not confirmed from source); Eclair since 0.7
    /// (`reference.conf` `features.option_anchors_zero_fee_htlc_tx = optional`; not confirmed from
    /// source); not LDK 0.1 (`UserConfig::channel_handshake_config`
    /// `negotiate_anchors_zero_fee_htlc_tx` defaults to false).
    pub anchors: bool,
    /// The most a channel may hold in dust HTLCs: lnd 0.18 500,000 sat
    /// (`DefaultMaxFeeExposure`, `htlcswitch/switch.go`, which also counts the commitment fee:
    /// not modelled); Core Lightning `max-dust-htlc-exposure-msat` 50,000 sat and Eclair
    /// `dust-tolerance.max-exposure-satoshis` 50,000 sat (neither confirmed from source); LDK 0.1
    /// `FeeRateMultiplier(10_000)` (`util/config.rs`; LDK multiplies its high-priority fee
    /// estimate, boltsim the channel's fee rate).
    pub max_dust_exposure: DustExposure,
    /// Largest channel without `option_support_large_channel`, sat (2^24 - 1).
    pub max_funding_sat: u64,
    /// Smallest channel this node accepts, sat.
    pub min_funding_sat: u64,
}

/// A node's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The preset these values started from.
    pub implementation: Implementation,
    /// Channel parameters it declares.
    pub channel: ChannelConfig,
    /// Its forwarding policy; `htlc_maximum_msat` is capped by each channel's capacity.
    pub policy: ChannelPolicy,
    /// Commitment and funding fee rate it uses, sat per 1000 weight.
    pub feerate_per_kw: u32,
    /// `min_final_cltv_expiry_delta` of its invoices, blocks.
    pub min_final_cltv_expiry_delta: u16,
    /// Expiry of its invoices, seconds.
    pub invoice_expiry_s: u32,
    /// Puts route hints for its unannounced channels in its invoices.
    pub route_hints: bool,
    /// How long a payment retries before it gives up, seconds.
    pub payment_timeout_s: u32,
    /// Fee limit of a payment: a fixed part, msat ...
    pub max_fee_base_msat: u64,
    /// ... plus millionths of the amount ...
    pub max_fee_ppm: u32,
    /// ... but never below this, msat ...
    pub max_fee_floor_msat: u64,
    /// ... and payments up to this amount may spend up to their whole amount on fees, msat.
    pub max_fee_whole_below_msat: u64,
    /// Largest sum of CLTV deltas of a route, blocks.
    pub max_total_cltv_delta: u32,
    /// Latest outgoing expiry it forwards, blocks above its height (`expiry_too_far` beyond):
    /// lnd `DefaultMaxOutgoingCltvExpiry` (`htlcswitch/link.go`), Core Lightning
    /// `max-locktime-blocks`, LDK `CLTV_FAR_FAR_AWAY` (`ln/channelmanager.rs`), all 2016. Apart
    /// from `max_total_cltv_delta`, the limit of the routes it plans as a payer.
    pub max_forward_cltv_delta: u32,
    /// What it answers when asked to forward over a channel whose peer is not connected.
    pub offline_peer_failure: OfflinePeerFailure,
    /// How long after a policy change it still accepts forwards paying the previous fee,
    /// seconds (BOLT 7: SHOULD keep accepting the previous parameters for 10 minutes): lnd 0.18
    /// none (`htlcswitch/link.go` checks only the current policy); Core Lightning 600
    /// (`setchannel` `enforcedelay`, `lightningd/peer_htlcs.c`); LDK 300 (`prev_config` kept
    /// `EXPIRE_PREV_CONFIG_TICKS` = 5 ticks of a minute, `ln/channel.rs`); Eclair 600
    /// (`ChannelRelay.scala` accepts the previous update within the relay's enforcement delay;
    /// its default is not confirmed from source).
    pub policy_grace_s: u32,
    /// Whether that grace also covers the previous CLTV delta (LDK, Eclair), or the fee only
    /// (Core Lightning's `old_feerate_base` and `old_feerate_ppm`).
    pub policy_grace_covers_cltv: bool,
    /// Largest number of hops of a route.
    pub max_route_hops: u8,
    /// Blocks added to the final CLTV so a block found in flight does not fail the payment.
    pub final_cltv_margin_blocks: u16,
    /// The interval of its gossip relay ticker, ms (each node at its own phase): lnd 0.18
    /// `trickle-delay` 90 s (`config.go`, `defaultTrickleDelay`); Core Lightning 60 s (gossipd's
    /// broadcast interval, `dev-broadcast-interval`, not confirmed from source); Eclair 60 s
    /// (`router.broadcast-interval`, `reference.conf`); LDK 0: its `PeerManager` relays gossip
    /// as it processes it.
    pub gossip_flush_interval_ms: u64,
    /// Blocks after a channel's funding is spent that it leaves this node's graph: lnd 0.18
    /// prunes it on the block that spends it (`PruneGraph` on each connected block,
    /// `graph/builder.go`); Core Lightning and Eclair follow BOLT 7's 12-block delay (not
    /// confirmed from source); LDK 0.1 watches no other channel's funding output and drops a
    /// channel without updates after two weeks (`STALE_CHANNEL_UPDATE_AGE_LIMIT_SECS`,
    /// `routing/gossip.rs`), 2016 blocks.
    pub forget_spent_after_blocks: u32,
    /// How long a peer may be away before our public channels with it are announced disabled,
    /// seconds: lnd `chan-disable-timeout` 20 minutes (`netann/chan_status_manager.go`), LDK
    /// `DISABLE_GOSSIP_TICKS` 10 ticks of a minute; Core Lightning and Eclair take lnd's value
    /// here (Core Lightning disables lazily, when a forward needs the channel: not modelled).
    pub disable_after_offline_s: u32,
    /// How long a peer that came back must stay before our channels with it, announced
    /// disabled while it was away, are announced enabled again, seconds: lnd 0.18
    /// `chan-enable-timeout` 19 minutes (`netann/chan_status_manager.go`); LDK 0.1
    /// `ENABLE_GOSSIP_TICKS` 5 ticks of a minute (`ln/channelmanager.rs`); Core Lightning and
    /// Eclair enable on reconnection (not confirmed from source).
    pub enable_after_reconnect_s: u32,
    /// The router its payments use unless a payment names another: each preset its own
    /// implementation's (lnd 0.18's apriori estimator, Core Lightning's `pay`, LDK's
    /// `ProbabilisticScorer`, Eclair's path finding); `Cheapest` and `ShortestHops` are
    /// baselines a scenario names.
    pub router: RouterConfig,
    /// Most parts of one multi-part payment in flight at once (lnd 16, LDK 10).
    pub max_parts: u32,
    /// Most attempt rounds of a payment (the parts sent at one instant are one round) before
    /// it gives up with `attempt_limit`; 0: no limit, the payment timeout alone ends it. lnd,
    /// Core Lightning and LDK 0: lnd retries until its timeout, Core Lightning's `pay` counts 10
    /// retries per part (not a round limit: not modelled), LDK leaves `Retry` to its user.
    /// Eclair 5 (`max-payment-attempts`, 0.5 `reference.conf`; not confirmed from source for
    /// 0.13).
    pub max_rounds: u32,
    /// Smallest part it splits off when a whole amount finds no route, msat (lnd's
    /// `DefaultShardMinAmt`, 10,000 sat).
    pub min_part_msat: u64,
    /// How its new updates wait to be signed, ms: a commitment ticker of this interval signs
    /// them all at once; 0 signs at once. lnd 0.18 `channel-commit-interval` 50 ms
    /// (`config.go`, `defaultChannelCommitInterval`; a full batch of 10 signs early: not
    /// modelled); Core Lightning, LDK and Eclair sign at once. A commitment owed to the peer
    /// (after its `commitment_signed` or `revoke_and_ack`) is always signed at once.
    pub commit_batch_ms: u64,
    /// How long it holds a received HTLC, once irrevocably committed, before forwarding or
    /// claiming it: a uniform draw between these bounds, ms. LDK 0.1 100 to 500 ms
    /// (`MIN_HTLC_RELAY_HOLDING_CELL_MILLIS` = 100, and `PendingHTLCsForwardable` asks for a
    /// random wait up to five times that, `ln/channelmanager.rs`); the others 0.
    pub forward_hold_min_ms: u64,
    /// ... and the upper bound, ms.
    pub forward_hold_max_ms: u64,
    /// Time to persist a channel state before its `commitment_signed` or `revoke_and_ack`
    /// leaves, µs. Every implementation writes the new state before sending them (lnd
    /// `htlcswitch/link.go`, Core Lightning `channeld` waits for `lightningd`'s database commit,
    /// LDK `ChannelMonitorUpdate` before the message is released); 5 ms is boltsim's
    /// assumption of one synchronous write to an SSD, not a measured value.
    pub persist_us: u64,
    /// Applies the `channel_update` in a payment failure to its own graph (newer timestamp wins)
    /// and retries the channel once with it: lnd 0.18 (`routing/payment_lifecycle.go`,
    /// `handleFailureMessage` → `ApplyChannelUpdate`) and Core Lightning 24.11
    /// (`plugins/libplugin-pay.c`, `addgossip`) do; LDK 0.1 (rust-lightning #3083) and Eclair
    /// 0.13 (`payment/send/PaymentLifecycle.scala`, for the payer's privacy) ignore it and
    /// exclude the channel for the payment.
    pub apply_failure_updates: bool,
    /// How long it holds the parts of an incomplete multi-part payment before failing them all
    /// with `mpp_timeout`, seconds (BOLT 4: at least 60): lnd 120 (`DefaultHtlcHoldDuration`,
    /// `invoices/invoiceregistry.go`); Core Lightning 70 (DESIGN.md; 60 in
    /// `lightningd/htlc_set.c` per the research notes, not confirmed from source); LDK 120
    /// (`MPP_TIMEOUT_TICKS` = 3 ticks of a minute, timed out on the third tick after the first
    /// part: 120 to 180 s, `ln/channelmanager.rs`); Eclair 60 (`multi-part-payment-expiry`).
    pub mpp_timeout_s: u32,
}

impl NodeConfig {
    /// The defaults of `implementation`.
    pub fn preset(implementation: Implementation) -> NodeConfig {
        let lnd = NodeConfig {
            implementation,
            channel: ChannelConfig {
                dust_limit_sat: 354,
                reserve_ppm: 10_000,
                htlc_minimum_msat: 1,
                max_htlc_value_in_flight_percent: 99,
                max_accepted_htlcs: 483,
                to_self_delay_blocks: 144,
                minimum_depth: 3,
                anchors: true,
                max_dust_exposure: DustExposure::Fixed(500_000_000),
                max_funding_sat: (1 << 24) - 1,
                min_funding_sat: 20_000,
            },
            policy: ChannelPolicy {
                fee_base_msat: 1_000,
                fee_proportional_millionths: 1,
                cltv_expiry_delta: 80,
                htlc_minimum_msat: 1_000,
                htlc_maximum_msat: u64::MAX,
            },
            feerate_per_kw: 253,
            min_final_cltv_expiry_delta: 80,
            invoice_expiry_s: 86_400,
            route_hints: true,
            payment_timeout_s: 60,
            max_fee_base_msat: 0,
            max_fee_ppm: 50_000,
            max_fee_floor_msat: 0,
            max_fee_whole_below_msat: 1_000_000,
            max_total_cltv_delta: 2016,
            max_forward_cltv_delta: 2016,
            offline_peer_failure: OfflinePeerFailure::UnknownNextPeer,
            policy_grace_s: 0,
            policy_grace_covers_cltv: false,
            max_route_hops: 20,
            final_cltv_margin_blocks: 3,
            gossip_flush_interval_ms: 90_000,
            disable_after_offline_s: 1_200,
            enable_after_reconnect_s: 1_140,
            forget_spent_after_blocks: 0,
            router: RouterConfig::Lnd(LndParams::default()),
            max_parts: 16,
            max_rounds: 0,
            min_part_msat: 10_000_000,
            mpp_timeout_s: 120,
            commit_batch_ms: 50,
            forward_hold_min_ms: 0,
            forward_hold_max_ms: 0,
            persist_us: 5_000,
            apply_failure_updates: true,
        };
        match implementation {
            Implementation::Lnd => lnd,
            Implementation::Cln => NodeConfig {
                channel: ChannelConfig {
                    dust_limit_sat: 546,
                    htlc_minimum_msat: 0,
                    max_htlc_value_in_flight_percent: 100,
                    max_accepted_htlcs: 30,
                    max_dust_exposure: DustExposure::Fixed(50_000_000),
                    ..lnd.channel
                },
                policy: ChannelPolicy {
                    fee_base_msat: 1_000,
                    fee_proportional_millionths: 10,
                    cltv_expiry_delta: 34,
                    htlc_minimum_msat: 0,
                    htlc_maximum_msat: u64::MAX,
                },
                min_final_cltv_expiry_delta: 18,
                invoice_expiry_s: 604_800,
                max_fee_ppm: 5_000,
                max_fee_floor_msat: 5_000,
                max_fee_whole_below_msat: 0,
                mpp_timeout_s: 70,
                router: RouterConfig::Cln(ClnParams::default()),
                commit_batch_ms: 0,
                gossip_flush_interval_ms: 60_000,
                forget_spent_after_blocks: 12,
                enable_after_reconnect_s: 0,
                offline_peer_failure: OfflinePeerFailure::TemporaryChannelFailure,
                policy_grace_s: 600,
                ..lnd
            },
            Implementation::Ldk => NodeConfig {
                channel: ChannelConfig {
                    max_htlc_value_in_flight_percent: 10,
                    max_accepted_htlcs: 50,
                    minimum_depth: 6,
                    anchors: false,
                    max_dust_exposure: DustExposure::FeeRateMultiplier(10_000),
                    ..lnd.channel
                },
                policy: ChannelPolicy {
                    fee_base_msat: 1_000,
                    fee_proportional_millionths: 0,
                    cltv_expiry_delta: 72,
                    htlc_minimum_msat: 1,
                    htlc_maximum_msat: u64::MAX,
                },
                min_final_cltv_expiry_delta: 42,
                invoice_expiry_s: 3_600,
                max_fee_base_msat: 50_000,
                max_fee_ppm: 10_000,
                max_fee_whole_below_msat: 0,
                max_total_cltv_delta: 1008,
                max_parts: 10,
                router: RouterConfig::Ldk(LdkParams::default()),
                apply_failure_updates: false,
                forget_spent_after_blocks: 2016,
                enable_after_reconnect_s: 300,
                disable_after_offline_s: 600,
                gossip_flush_interval_ms: 0,
                commit_batch_ms: 0,
                forward_hold_min_ms: 100,
                forward_hold_max_ms: 500,
                offline_peer_failure: OfflinePeerFailure::DisabledOnceAnnounced,
                policy_grace_s: 300,
                policy_grace_covers_cltv: true,
                ..lnd
            },
            Implementation::Eclair => NodeConfig {
                channel: ChannelConfig {
                    dust_limit_sat: 546,
                    max_htlc_value_in_flight_percent: 45,
                    max_accepted_htlcs: 30,
                    to_self_delay_blocks: 720,
                    minimum_depth: 8,
                    max_dust_exposure: DustExposure::Fixed(50_000_000),
                    ..lnd.channel
                },
                policy: ChannelPolicy {
                    fee_base_msat: 1_000,
                    fee_proportional_millionths: 200,
                    cltv_expiry_delta: 144,
                    htlc_minimum_msat: 1,
                    htlc_maximum_msat: u64::MAX,
                },
                min_final_cltv_expiry_delta: 30,
                invoice_expiry_s: 3_600,
                max_fee_ppm: 30_000,
                max_fee_floor_msat: 21_000,
                max_fee_whole_below_msat: 0,
                mpp_timeout_s: 60,
                router: RouterConfig::Eclair(EclairParams::default()),
                max_rounds: 5,
                apply_failure_updates: false,
                forget_spent_after_blocks: 12,
                enable_after_reconnect_s: 0,
                gossip_flush_interval_ms: 60_000,
                commit_batch_ms: 0,
                max_total_cltv_delta: 1008,
                offline_peer_failure: OfflinePeerFailure::TemporaryChannelFailure,
                policy_grace_s: 600,
                policy_grace_covers_cltv: true,
                ..lnd
            },
        }
    }

    /// The fee limit for paying `amount_msat`: lnd allows the whole amount up to 1000 sat and 5%
    /// above, Core Lightning 0.5% with 5 sat exempt, LDK 1% + 50 sat, Eclair 3% or 21 sat.
    pub fn max_fee_msat(&self, amount_msat: u64) -> u64 {
        if amount_msat <= self.max_fee_whole_below_msat {
            return amount_msat.max(self.max_fee_floor_msat);
        }
        let proportional = u128::from(amount_msat) * u128::from(self.max_fee_ppm) / 1_000_000;
        let limit =
            u64::try_from(proportional).unwrap_or(u64::MAX).saturating_add(self.max_fee_base_msat);
        limit.max(self.max_fee_floor_msat)
    }
}

impl Default for NodeConfig {
    fn default() -> NodeConfig {
        NodeConfig::preset(Implementation::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_the_design_table() {
        assert_eq!(NodeConfig::preset(Implementation::Lnd).channel.max_accepted_htlcs, 483);
        assert_eq!(NodeConfig::preset(Implementation::Cln).channel.max_accepted_htlcs, 30);
        assert_eq!(NodeConfig::preset(Implementation::Ldk).channel.max_accepted_htlcs, 50);
        assert_eq!(NodeConfig::preset(Implementation::Eclair).channel.max_accepted_htlcs, 30);
        assert_eq!(NodeConfig::preset(Implementation::Cln).channel.dust_limit_sat, 546);
        assert_eq!(NodeConfig::preset(Implementation::Cln).min_final_cltv_expiry_delta, 18);
        assert_eq!(NodeConfig::preset(Implementation::Lnd).invoice_expiry_s, 86_400);
    }

    /// The behaviour each preset takes from its implementation (FIDELITY.md), one row each.
    #[test]
    fn presets_follow_their_implementations() {
        use crate::config::{DustExposure, OfflinePeerFailure};
        let [lnd, cln, ldk, eclair] =
            [Implementation::Lnd, Implementation::Cln, Implementation::Ldk, Implementation::Eclair]
                .map(NodeConfig::preset);
        let names = [lnd, cln, ldk, eclair].map(|c| c.router.name());
        assert_eq!(names, ["lnd_apriori", "cln", "ldk", "eclair"]);
        let each = |f: fn(&NodeConfig) -> u64| [lnd, cln, ldk, eclair].map(|c| f(&c));
        assert_eq!(each(|c| u64::from(c.max_total_cltv_delta)), [2016, 2016, 1008, 1008]);
        assert_eq!(each(|c| u64::from(c.max_forward_cltv_delta)), [2016; 4]);
        assert_eq!(each(|c| u64::from(c.policy_grace_s)), [0, 600, 300, 600]);
        assert_eq!(each(|c| c.gossip_flush_interval_ms), [90_000, 60_000, 0, 60_000]);
        assert_eq!(each(|c| u64::from(c.disable_after_offline_s)), [1200, 1200, 600, 1200]);
        assert_eq!(each(|c| u64::from(c.enable_after_reconnect_s)), [1140, 0, 300, 0]);
        assert_eq!(each(|c| u64::from(c.forget_spent_after_blocks)), [0, 12, 2016, 12]);
        assert_eq!(each(|c| c.commit_batch_ms), [50, 0, 0, 0]);
        assert_eq!(each(|c| c.forward_hold_max_ms), [0, 0, 500, 0]);
        assert_eq!(each(|c| u64::from(c.mpp_timeout_s)), [120, 70, 120, 60]);
        assert_eq!(each(|c| u64::from(c.max_rounds)), [0, 0, 0, 5]);
        assert_eq!(each(|c| u64::from(c.apply_failure_updates)), [1, 1, 0, 0]);
        assert_eq!(each(|c| u64::from(c.channel.anchors)), [1, 1, 0, 1]);
        assert_eq!(lnd.offline_peer_failure, OfflinePeerFailure::UnknownNextPeer);
        assert_eq!(ldk.offline_peer_failure, OfflinePeerFailure::DisabledOnceAnnounced);
        assert_eq!(cln.channel.max_dust_exposure, DustExposure::Fixed(50_000_000));
        assert_eq!(ldk.channel.max_dust_exposure.limit_msat(253), 2_530_000);
    }

    #[test]
    fn fee_limits_follow_each_implementation() {
        let cln = NodeConfig::preset(Implementation::Cln);
        assert_eq!(cln.max_fee_msat(100_000), 5_000);
        assert_eq!(cln.max_fee_msat(10_000_000), 50_000);
        let lnd = NodeConfig::preset(Implementation::Lnd);
        assert_eq!(lnd.max_fee_msat(100_000), 100_000);
        assert_eq!(lnd.max_fee_msat(2_000_000), 100_000);
        let ldk = NodeConfig::preset(Implementation::Ldk);
        assert_eq!(ldk.max_fee_msat(1_000_000), 60_000);
        let eclair = NodeConfig::preset(Implementation::Eclair);
        assert_eq!(eclair.max_fee_msat(100_000), 21_000);
        assert_eq!(eclair.max_fee_msat(10_000_000), 300_000);
    }
}
