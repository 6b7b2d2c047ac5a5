//! The script and the shops its steps buy from: each shop's node, items and polling, and each
//! step's nodes, amounts and routers, resolved to ids and indexes (a `Buy` names its shop and
//! item by index). Running the steps and the shops is the world's job.

use super::Validator;
use crate::scenario::file::{ShopSpec, StepSpec};
use crate::scenario::locate::ScenarioError;
use crate::scenario::model::{MAX_DURATION_S, MAX_LATENCY_MS, NodeDef, Step};
use crate::shop::{Item, ShopDef};

impl Validator<'_> {
    /// The shops: at most one per node, items with distinct names and positive prices, and a
    /// polling interval of 1 ms to a day.
    pub(super) fn shops(&self, specs: &[ShopSpec]) -> Result<Vec<ShopDef>, ScenarioError> {
        let mut shops: Vec<ShopDef> = Vec::with_capacity(specs.len());
        for spec in specs {
            let node = self.resolve(&spec.node)?;
            if shops.iter().any(|s| s.node == node) {
                return Err(self.at.error(
                    self.at.find_field("node", &format!("{:?}", spec.node), 1),
                    format!("two shops on node {:?}", spec.node),
                ));
            }
            let mut items = Vec::with_capacity(spec.items.len());
            for item in &spec.items {
                self.money_msat("price_msat", item.price_msat)?;
                if item.price_msat == 0 {
                    return Err(self.at.at_field(
                        "price_msat",
                        "0",
                        format!("item {:?} has a zero price", item.name),
                    ));
                }
                if items.iter().any(|i: &Item| i.name == item.name) {
                    return Err(self.at.error(
                        self.at.find_field("name", &format!("{:?}", item.name), 1),
                        format!("duplicate item {:?}", item.name),
                    ));
                }
                items.push(Item {
                    name: item.name.clone(),
                    price_msat: item.price_msat,
                    content: item.content.as_str().into(),
                });
            }
            if spec.poll_interval_ms == 0 || spec.poll_interval_ms > MAX_LATENCY_MS {
                return Err(self.at.at_field(
                    "poll_interval_ms",
                    &spec.poll_interval_ms.to_string(),
                    "poll_interval_ms must be between 1 and 86400000".into(),
                ));
            }
            shops.push(ShopDef {
                node,
                items,
                poll_interval_us: spec.poll_interval_ms * 1000,
                invoice_expiry_s: spec.invoice_expiry_s,
            });
        }
        Ok(shops)
    }

    /// The script's steps, resolved: a funding must not be dust to either node, nor push more
    /// than it funds; a purchase names a shop's item and is not the shop's own.
    pub(super) fn script(
        &self,
        steps: &[StepSpec],
        nodes: &[NodeDef],
        shops: &[ShopDef],
    ) -> Result<Vec<Step>, ScenarioError> {
        let mut script = Vec::with_capacity(steps.len());
        for step in steps {
            script.push(match step {
                StepSpec::Connect { from, to } => {
                    let (from, to) = self.pair(from, to, "connection")?;
                    Step::Connect { from, to }
                }
                StepSpec::FundChannel { from, to, amount_sat, push_msat, announce } => {
                    let (a, b) = self.pair(from, to, "channel")?;
                    self.positive("amount_sat", *amount_sat)?;
                    self.money("amount_sat", *amount_sat)?;
                    let dust_sat = nodes[a.index()]
                        .config
                        .channel
                        .dust_limit_sat
                        .max(nodes[b.index()].config.channel.dust_limit_sat);
                    if *amount_sat < dust_sat {
                        return Err(self.at.at_field(
                            "amount_sat",
                            &amount_sat.to_string(),
                            format!(
                                "funding {amount_sat} sat is below the dust limit {dust_sat} sat"
                            ),
                        ));
                    }
                    if *push_msat > amount_sat * 1000 {
                        return Err(self.at.at_field(
                            "push_msat",
                            &push_msat.to_string(),
                            "push_msat is above the funding".into(),
                        ));
                    }
                    Step::FundChannel {
                        from: a,
                        to: b,
                        amount_sat: *amount_sat,
                        push_msat: *push_msat,
                        announce: *announce,
                    }
                }
                StepSpec::WaitChannelReady { from, to } => {
                    let (from, to) = self.pair(from, to, "channel")?;
                    Step::WaitChannelReady { from, to }
                }
                StepSpec::Buy { customer, shop, item } => {
                    let customer_id = self.resolve(customer)?;
                    let shop_node = self.resolve(shop)?;
                    let Some(shop_index) = shops.iter().position(|s| s.node == shop_node) else {
                        return Err(self.at.at_field(
                            "shop",
                            &format!("{shop:?}"),
                            format!("node {shop:?} runs no shop"),
                        ));
                    };
                    if customer_id == shop_node {
                        return Err(self.at.at_field(
                            "customer",
                            &format!("{customer:?}"),
                            format!("{customer:?} buys from itself"),
                        ));
                    }
                    let Some(item_index) =
                        shops[shop_index].items.iter().position(|i| &i.name == item)
                    else {
                        return Err(self.at.error(
                            self.at.find_string(item),
                            format!("shop {shop:?} sells no {item:?}"),
                        ));
                    };
                    Step::Buy { customer: customer_id, shop: shop_index, item: item_index }
                }
                StepSpec::Pay { from, to, amount_msat, router } => {
                    let (from, to) = self.pair(from, to, "payment")?;
                    self.positive("amount_msat", *amount_msat)?;
                    self.money_msat("amount_msat", *amount_msat)?;
                    if let Some(router) = router {
                        self.router(router)?;
                    }
                    Step::Pay { from, to, amount_msat: *amount_msat, router: *router }
                }
                StepSpec::Keysend { from, to, amount_msat, router } => {
                    let (from, to) = self.pair(from, to, "payment")?;
                    self.positive("amount_msat", *amount_msat)?;
                    self.money_msat("amount_msat", *amount_msat)?;
                    if let Some(router) = router {
                        self.router(router)?;
                    }
                    Step::Keysend { from, to, amount_msat: *amount_msat, router: *router }
                }
                StepSpec::Close { from, to } => {
                    let (from, to) = self.pair(from, to, "close")?;
                    Step::Close { from, to }
                }
                StepSpec::Sleep { duration_ms } => {
                    let most = MAX_DURATION_S * 1000;
                    self.within("duration_ms", *duration_ms, 0, most, "at most ten years")?;
                    Step::Sleep { duration_us: duration_ms * 1000 }
                }
                StepSpec::WaitBlocks { blocks } => {
                    // Heights stay below 2^24 (short channel ids hold 24 bits).
                    let most = (1 << 24) - 1;
                    self.within("blocks", u64::from(*blocks), 0, most, "at most 16777215")?;
                    Step::WaitBlocks { blocks: *blocks }
                }
            });
        }
        Ok(script)
    }
}
