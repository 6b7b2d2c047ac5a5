//! A small ordered map for the node's per-peer and per-channel indexes: a sorted vector while it
//! holds a few entries, a B-tree past that. It owns no Lightning logic.

use std::collections::BTreeMap;

/// An ordered map kept as a sorted vector while it holds at most [`FEW`] entries, and as a B-tree
/// past that. Most nodes have a channel or two: a B-tree's first leaf has room for eleven
/// entries, some 900 bytes across the indexes of a node with one channel, while a hub's thousands
/// of channels need the tree's logarithmic inserts.
#[derive(Clone, Debug)]
pub(super) enum Index<K, V> {
    Few(Vec<(K, V)>),
    Many(BTreeMap<K, V>),
}

/// Entries an [`Index`] keeps in a vector before it becomes a B-tree.
const FEW: usize = 32;

impl<K, V> Default for Index<K, V> {
    fn default() -> Self {
        Index::Few(Vec::new())
    }
}

impl<K: Ord + Copy, V> Index<K, V> {
    pub(super) fn get(&self, key: &K) -> Option<&V> {
        match self {
            Index::Few(v) => v.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| &v[i].1),
            Index::Many(m) => m.get(key),
        }
    }

    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match self {
            Index::Few(v) => v.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| &mut v[i].1),
            Index::Many(m) => m.get_mut(key),
        }
    }

    /// Sets the value at `key`.
    pub(super) fn insert(&mut self, key: K, value: V) {
        let mut value = Some(value);
        let slot = self.entry_or_insert_with(key, || value.take().expect("made once"));
        if let Some(value) = value {
            *slot = value;
        }
    }

    /// The value at `key`, inserted as the default if absent.
    pub(super) fn entry_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.entry_or_insert_with(key, V::default)
    }

    /// The value at `key`, inserted as `make` makes it if absent (one search either way).
    fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let mut found = match self {
            Index::Few(v) => Some((v.binary_search_by(|(k, _)| k.cmp(&key)), v.len())),
            Index::Many(_) => None,
        };
        if let (Index::Few(v), Some((Err(_), FEW))) = (&mut *self, found) {
            *self = Index::Many(std::mem::take(v).into_iter().collect());
            found = None;
        }
        match (self, found) {
            (Index::Few(v), Some((Ok(i), _))) => &mut v[i].1,
            (Index::Few(v), Some((Err(i), _))) => {
                // Exact growth while tiny: most nodes stop at one to four entries.
                if v.len() == v.capacity() && v.len() < 4 {
                    v.reserve_exact(1);
                }
                v.insert(i, (key, make()));
                &mut v[i].1
            }
            (Index::Many(m), _) => m.entry(key).or_insert_with(make),
            (Index::Few(_), None) => unreachable!("a vector is always searched"),
        }
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        match self {
            Index::Few(v) => v.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| v.remove(i).1),
            Index::Many(m) => m.remove(key),
        }
    }

    pub(super) fn pop_first(&mut self) -> Option<(K, V)> {
        match self {
            Index::Few(v) if v.is_empty() => None,
            Index::Few(v) => Some(v.remove(0)),
            Index::Many(m) => m.pop_first(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        match self {
            Index::Few(v) => v.is_empty(),
            Index::Many(m) => m.is_empty(),
        }
    }

    /// The entries in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let (few, many) = match self {
            Index::Few(v) => (Some(v.iter().map(|(k, v)| (k, v))), None),
            Index::Many(m) => (None, Some(m.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }

    /// The entries with keys in `from..=to`, in key order (none if `from > to`).
    pub(super) fn range(&self, from: K, to: K) -> impl Iterator<Item = (&K, &V)> {
        let (few, many) = match self {
            _ if from > to => (None, None),
            Index::Few(v) => {
                let start = v.partition_point(|(k, _)| *k < from);
                let end = v.partition_point(|(k, _)| *k <= to);
                (Some(v[start..end.max(start)].iter().map(|(k, v)| (k, v))), None)
            }
            Index::Many(m) => (None, Some(m.range(from..=to))),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        PopFirst,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => any::<u8>().prop_map(Op::Remove),
            1 => Just(Op::PopFirst),
        ]
    }

    proptest! {
        /// Whatever the operations, and across the switch from vector to B-tree, the index
        /// answers as a `BTreeMap` does: the same entries, in the same order.
        #[test]
        fn answers_as_a_btree_map(ops in proptest::collection::vec(op(), 0..300)) {
            let mut index: Index<u8, u32> = Index::default();
            let mut model: BTreeMap<u8, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        index.insert(k, v);
                        model.insert(k, v);
                    }
                    Op::Remove(k) => prop_assert_eq!(index.remove(&k), model.remove(&k)),
                    Op::PopFirst => prop_assert_eq!(index.pop_first(), model.pop_first()),
                }
                prop_assert_eq!(index.is_empty(), model.is_empty());
                let got: Vec<_> = index.iter().map(|(k, v)| (*k, *v)).collect();
                let want: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(got, want);
                let got: Vec<_> = index.range(40, 90).map(|(k, _)| *k).collect();
                let want: Vec<_> = model.range(40..=90).map(|(k, _)| *k).collect();
                prop_assert_eq!(got, want);
                prop_assert_eq!(index.range(90, 40).count(), 0, "an empty range, not a panic");
                for k in [0, 7, 64, 255] {
                    prop_assert_eq!(index.get(&k), model.get(&k));
                }
            }
        }
    }

    #[test]
    fn becomes_a_tree_past_few_entries_and_keeps_them() {
        let mut index: Index<u32, ()> = Index::default();
        for k in (0..=FEW as u32).rev() {
            index.insert(k, ());
        }
        assert!(matches!(index, Index::Many(_)));
        assert!(index.iter().map(|(k, _)| *k).eq(0..=FEW as u32));
        *index.entry_or_default(1_000) = ();
        assert_eq!(index.iter().count(), FEW + 2);
    }
}
