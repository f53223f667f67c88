//! The builder: collects lists, exact numbers and prefixes from a rule pack and builds
//! [`NumberLists`] once (the exact table sized for its final load).

use super::*;

/// Builds [`NumberLists`] from a rule pack (the pack loader feeds it parsed lines).
#[derive(Debug, Default)]
pub struct NumberListsBuilder {
    pub(super) meta: Vec<ListMeta>,
    pub(super) exact: Vec<u64>,
    pub(super) prefixes: Vec<PrefixRecord>,
    pub(super) pushed: Vec<NumberChange>,
}

impl NumberListsBuilder {
    /// An empty builder.
    pub fn new() -> NumberListsBuilder {
        NumberListsBuilder::default()
    }

    /// An empty builder with room for `exact` exact numbers (avoids regrowth when loading
    /// millions of numbers).
    pub fn with_capacity(exact: usize) -> NumberListsBuilder {
        NumberListsBuilder {
            exact: Vec::with_capacity(exact),
            ..NumberListsBuilder::default()
        }
    }

    /// Makes room for `additional` more exact numbers (the pack loader calls it with a list
    /// file's line count, so a 10-million-number file never regrows the table being filled).
    pub fn reserve(&mut self, additional: usize) {
        self.exact.reserve(additional);
    }

    /// Declares a list; its id is its position.
    pub fn add_list(&mut self, meta: ListMeta) -> Result<ListId, ListError> {
        if self.meta.iter().any(|m| m.name == meta.name) {
            return Err(ListError::DuplicateList(meta.name.to_string()));
        }
        if self.meta.len() >= MAX_LISTS {
            return Err(ListError::TooManyLists);
        }
        let id = ListId(self.meta.len() as u16);
        self.meta.push(meta);
        Ok(id)
    }

    /// The list with this name, if declared.
    pub fn list_id(&self, name: &str) -> Option<ListId> {
        self.meta
            .iter()
            .position(|m| &*m.name == name)
            .map(|i| ListId(i as u16))
    }

    fn check(&self, list: ListId) -> Result<(), ListError> {
        if list.index() < self.meta.len() {
            Ok(())
        } else {
            Err(ListError::UnknownList(list.index()))
        }
    }

    /// Adds an exact number (duplicates are ignored).
    #[inline]
    pub fn add_exact(&mut self, list: ListId, key: NumberKey) -> Result<(), ListError> {
        self.check(list)?;
        self.exact.push((u64::from(list.0) << KEY_BITS) | key.raw());
        Ok(())
    }

    /// Adds an exact number with its own source (a pushed entry, possibly expiring): it is
    /// kept in the overlay so its source and expiry are known.
    pub fn add_exact_with_source(
        &mut self,
        list: ListId,
        key: NumberKey,
        source: Source,
    ) -> Result<(), ListError> {
        self.check(list)?;
        self.pushed.push(NumberChange::add(list, key, source));
        Ok(())
    }

    /// Adds a prefix.
    pub fn add_prefix(
        &mut self,
        list: ListId,
        prefix: Prefix,
        source: Source,
    ) -> Result<(), ListError> {
        self.check(list)?;
        self.prefixes.push(PrefixRecord {
            prefix,
            list,
            source,
        });
        Ok(())
    }

    /// Adds a prefix written as in list files (see [`parse_prefix`]).
    pub fn add_prefix_str(
        &mut self,
        list: ListId,
        text: &str,
        source: Source,
    ) -> Result<(), ListError> {
        let prefix = parse_prefix(text)?;
        self.add_prefix(list, prefix, source)
    }

    /// Builds the lists.
    pub fn build(mut self) -> NumberLists {
        let actions: Arc<[Action]> = self.meta.iter().map(|m| m.action).collect();
        self.prefixes.sort_by_key(|r| (r.prefix, r.list));
        self.prefixes
            .dedup_by(|a, b| a.prefix == b.prefix && a.list == b.list);
        let prefix_index = PrefixIndex::build(&self.prefixes, &actions);
        let exact = ExactTable::with_entries(&self.exact);
        let lists = NumberLists {
            meta: self.meta.into(),
            actions,
            exact: Arc::new(exact),
            overlay: Arc::new(Overlay::default()),
            prefixes: self.prefixes.into(),
            prefix_index: Arc::new(prefix_index),
        };
        if self.pushed.is_empty() {
            return lists;
        }
        // Every list id in `pushed` was checked when it was added.
        match lists.with_changes(&self.pushed) {
            Ok(l) => l,
            Err(_) => lists,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Numbers are synthetic (170/171 virtual-operator ranges).
    use super::*;
    use crate::lists::tests::n;

    #[test]
    fn builder_pushed_entries_and_errors() {
        let mut b = NumberListsBuilder::with_capacity(4);
        let l = b
            .add_list(ListMeta::new("a", "c", Action::Warn, Source::file("a", 1)))
            .unwrap();
        assert_eq!(
            b.add_list(ListMeta::new("a", "c", Action::Warn, Source::file("a", 1))),
            Err(ListError::DuplicateList("a".into()))
        );
        assert_eq!(b.list_id("a"), Some(l));
        assert_eq!(
            b.add_exact(ListId(5), n("110").key()),
            Err(ListError::UnknownList(5))
        );
        b.add_exact_with_source(l, n("110").key(), Source::pushed("x", Some(10)))
            .unwrap();
        let lists = b.build();
        assert!(lists.lookup(&n("110"), 9).has_action(Action::Warn));
        assert!(lists.lookup(&n("110"), 10).is_empty());
        assert_eq!(lists.list_id("a"), Some(l));
        assert_eq!(lists.meta(l).map(|m| m.action), Some(Action::Warn));
    }
}
