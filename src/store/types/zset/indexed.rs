//! The indexed ("skiplist") representation: an order-statistic treap in chunked arrays plus
//! a hash index member -> node.
use super::*;

pub(super) const NIL: u32 = u32::MAX;
pub(super) const CHUNK_BITS: u32 = 10;
pub(super) const CHUNK: usize = 1 << CHUNK_BITS;

/// One member. A free slot has `size == 0` and links the free list through `left`.
#[derive(Clone)]
pub(super) struct Node {
    pub(super) score: f64,
    pub(super) member: SmallBytes,
    pub(super) left: u32,
    pub(super) right: u32,
    /// Nodes in this subtree (0 = free slot).
    pub(super) size: u32,
    /// Treap priority: a parent's is never lower than its children's.
    pub(super) prio: u32,
}

#[derive(Clone)]
pub(super) struct Indexed {
    /// Node slots; only the last chunk grows, so growth never copies more than one chunk.
    pub(super) chunks: Vec<Vec<Node>>,
    pub(super) slots: u32,
    pub(super) root: u32,
    pub(super) free: u32,
    pub(super) index: HashTable<u32>,
    pub(super) hasher: RandomState,
    pub(super) rng: u64,
    /// Heap bytes of members too long to sit inline.
    pub(super) member_heap: usize,
    /// Bumped when slots are renumbered (ZSCAN cursors from before restart).
    pub(super) generation: u32,
}

pub(super) fn node_in(chunks: &[Vec<Node>], i: u32) -> &Node {
    &chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
}

impl Indexed {
    pub(super) fn new() -> Indexed {
        Indexed {
            chunks: Vec::new(),
            slots: 0,
            root: NIL,
            free: NIL,
            index: HashTable::new(),
            hasher: RandomState::new(),
            rng: rand::random::<u64>() | 1,
            member_heap: 0,
            generation: 0,
        }
    }

    pub(super) fn heap_size(&self) -> usize {
        let nodes: usize = self
            .chunks
            .iter()
            .map(|c| c.capacity() * std::mem::size_of::<Node>())
            .sum();
        nodes
            + self.chunks.capacity() * std::mem::size_of::<Vec<Node>>()
            + self.index.allocation_size()
            + self.member_heap
    }

    pub(super) fn len(&self) -> usize {
        self.sz(self.root) as usize
    }

    #[inline]
    pub(super) fn node(&self, i: u32) -> &Node {
        node_in(&self.chunks, i)
    }

    #[inline]
    pub(super) fn node_mut(&mut self, i: u32) -> &mut Node {
        &mut self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
    }

    #[inline]
    pub(super) fn sz(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.node(t).size
        }
    }

    pub(super) fn fix(&mut self, t: u32) {
        let n = self.node(t);
        let s = 1 + self.sz(n.left) + self.sz(n.right);
        self.node_mut(t).size = s;
    }

    pub(super) fn next_prio(&mut self) -> u32 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    pub(super) fn hash(&self, m: &[u8]) -> u64 {
        self.hasher.hash_one(m)
    }

    pub(super) fn find(&self, m: &[u8]) -> Option<u32> {
        let chunks = &self.chunks;
        self.index
            .find(self.hash(m), |&i| node_in(chunks, i).member.as_slice() == m)
            .copied()
    }

    /// A slot for a new node (a free one first), not yet linked anywhere.
    pub(super) fn alloc(&mut self, member: SmallBytes, score: f64) -> u32 {
        self.member_heap += member.heap_size();
        let prio = self.next_prio();
        let node = Node {
            score,
            member,
            left: NIL,
            right: NIL,
            size: 1,
            prio,
        };
        if self.free != NIL {
            let i = self.free;
            self.free = self.node(i).left;
            *self.node_mut(i) = node;
            return i;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::new());
        }
        self.chunks.last_mut().expect("chunk").push(node);
        self.slots += 1;
        self.slots - 1
    }

    /// Returns slot `i` to the free list (already unlinked from the tree and the index).
    pub(super) fn release(&mut self, i: u32) {
        let free = self.free;
        let n = self.node_mut(i);
        let old = std::mem::replace(&mut n.member, SmallBytes::new(&[]));
        n.size = 0;
        n.left = free;
        n.right = NIL;
        self.member_heap -= old.heap_size();
        self.free = i;
    }

    pub(super) fn index_insert(&mut self, i: u32) {
        let h = self.hash(self.node(i).member.as_slice());
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index.insert_unique(h, i, |&j| {
            hasher.hash_one(node_in(chunks, j).member.as_slice())
        });
    }

    pub(super) fn index_remove(&mut self, i: u32) {
        let h = self.hash(self.node(i).member.as_slice());
        if let Ok(e) = self.index.find_entry(h, |&j| j == i) {
            e.remove();
        }
    }

    pub(super) fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.node(a).prio >= self.node(b).prio {
            let r = self.node(a).right;
            let m = self.merge(r, b);
            self.node_mut(a).right = m;
            self.fix(a);
            a
        } else {
            let l = self.node(b).left;
            let m = self.merge(a, l);
            self.node_mut(b).left = m;
            self.fix(b);
            b
        }
    }

    /// Splits `t` into (nodes for which `goes_left` holds, the rest); `goes_left` must hold on
    /// a prefix of the order.
    pub(super) fn split_by(&mut self, t: u32, goes_left: &dyn Fn(&Node) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if goes_left(self.node(t)) {
            let (l, r) = self.split_by(self.node(t).right, goes_left);
            self.node_mut(t).right = l;
            self.fix(t);
            (t, r)
        } else {
            let (l, r) = self.split_by(self.node(t).left, goes_left);
            self.node_mut(t).left = r;
            self.fix(t);
            (l, t)
        }
    }

    /// Splits `t` into (its first `k` nodes, the rest).
    pub(super) fn split_at(&mut self, t: u32, k: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let ls = self.sz(self.node(t).left);
        if k <= ls {
            let (l, r) = self.split_at(self.node(t).left, k);
            self.node_mut(t).left = r;
            self.fix(t);
            (l, t)
        } else {
            let (l, r) = self.split_at(self.node(t).right, k - ls - 1);
            self.node_mut(t).right = l;
            self.fix(t);
            (t, r)
        }
    }

    /// Links the detached node `i` into the subtree `t`; returns the new subtree root.
    pub(super) fn link(&mut self, t: u32, i: u32) -> u32 {
        if t == NIL {
            return i;
        }
        if self.node(i).prio > self.node(t).prio {
            let (s, m) = (self.node(i).score, self.node(i).member.clone());
            let (l, r) = self.split_by(t, &|n: &Node| {
                cmp_key(n.score, &n.member, s, &m) == Ordering::Less
            });
            let n = self.node_mut(i);
            n.left = l;
            n.right = r;
            self.fix(i);
            return i;
        }
        if self.before(i, t) {
            let c = self.link(self.node(t).left, i);
            self.node_mut(t).left = c;
        } else {
            let c = self.link(self.node(t).right, i);
            self.node_mut(t).right = c;
        }
        self.node_mut(t).size += 1;
        t
    }

    /// True if node `i` sorts before node `t`.
    pub(super) fn before(&self, i: u32, t: u32) -> bool {
        let (ni, nt) = (self.node(i), self.node(t));
        cmp_key(ni.score, &ni.member, nt.score, &nt.member) == Ordering::Less
    }

    /// Unlinks node `i` (present) from the subtree `t`; returns the new subtree root.
    pub(super) fn unlink(&mut self, t: u32, i: u32) -> u32 {
        if t == i {
            let n = self.node(i);
            return self.merge(n.left, n.right);
        }
        if self.before(i, t) {
            let c = self.unlink(self.node(t).left, i);
            self.node_mut(t).left = c;
        } else {
            let c = self.unlink(self.node(t).right, i);
            self.node_mut(t).right = c;
        }
        self.node_mut(t).size -= 1;
        t
    }

    pub(super) fn insert(&mut self, member: SmallBytes, score: f64) {
        let i = self.alloc(member, score);
        self.root = self.link(self.root, i);
        self.index_insert(i);
    }

    pub(super) fn remove(&mut self, m: &[u8]) -> bool {
        let Some(i) = self.find(m) else { return false };
        self.root = self.unlink(self.root, i);
        self.index_remove(i);
        self.release(i);
        self.maybe_compact();
        true
    }

    pub(super) fn set_score(&mut self, m: &[u8], score: f64) {
        let i = self.find(m).expect("present");
        self.root = self.unlink(self.root, i);
        let n = self.node_mut(i);
        n.score = score;
        n.left = NIL;
        n.right = NIL;
        n.size = 1;
        self.root = self.link(self.root, i);
    }

    /// Ascending rank of node `i`, by descent from the root.
    pub(super) fn rank_of(&self, i: u32) -> usize {
        let (s, m) = (self.node(i).score, self.node(i).member.as_slice());
        let (mut t, mut rank) = (self.root, 0usize);
        while t != NIL {
            let n = self.node(t);
            match cmp_key(s, m, n.score, &n.member) {
                Ordering::Less => t = n.left,
                Ordering::Greater => {
                    rank += self.sz(n.left) as usize + 1;
                    t = n.right;
                }
                Ordering::Equal => return rank + self.sz(n.left) as usize,
            }
        }
        unreachable!("rank of a node not in the tree")
    }

    /// How many entries, from the lowest, satisfy `pred` (true on a prefix of the order).
    pub(super) fn partition(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        let (mut t, mut count) = (self.root, 0usize);
        while t != NIL {
            let n = self.node(t);
            if pred(&n.member, n.score) {
                count += self.sz(n.left) as usize + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// Removes `count` entries from ascending rank `start` in O(log n + count).
    pub(super) fn remove_range(&mut self, start: usize, count: usize) {
        let (l, r) = self.split_at(self.root, start as u32);
        let (mid, r2) = self.split_at(r, count as u32);
        self.root = self.merge(l, r2);
        let mut stack = vec![mid];
        while let Some(t) = stack.pop() {
            if t == NIL {
                continue;
            }
            stack.push(self.node(t).left);
            stack.push(self.node(t).right);
            self.index_remove(t);
            self.release(t);
        }
        self.maybe_compact();
    }

    /// Builds the tree from entries in order (empty tree only): nodes in order, then the
    /// treap shape from their priorities in one pass (a Cartesian-tree build).
    pub(super) fn build(&mut self, items: impl Iterator<Item = (SmallBytes, f64)>) {
        debug_assert!(self.root == NIL && self.slots == 0);
        for (m, s) in items {
            self.alloc(m, s);
        }
        let mut stack: Vec<u32> = Vec::new();
        for i in 0..self.slots {
            let mut last = NIL;
            while let Some(&top) = stack.last() {
                if self.node(top).prio >= self.node(i).prio {
                    break;
                }
                last = stack.pop().expect("top");
            }
            self.node_mut(i).left = last;
            if let Some(&top) = stack.last() {
                self.node_mut(top).right = i;
            }
            stack.push(i);
        }
        self.root = stack.first().copied().unwrap_or(NIL);
        self.fix_sizes();
        self.index.reserve(self.slots as usize, |_| 0);
        for i in 0..self.slots {
            self.index_insert(i);
        }
    }

    /// Recomputes every subtree size, children before parents (iterative post-order).
    pub(super) fn fix_sizes(&mut self) {
        let mut stack = vec![(self.root, false)];
        while let Some((t, done)) = stack.pop() {
            if t == NIL {
                continue;
            }
            if done {
                self.fix(t);
            } else {
                stack.push((t, true));
                stack.push((self.node(t).left, false));
                stack.push((self.node(t).right, false));
            }
        }
    }

    /// After mass deletion, renumbers the live nodes densely (most slots free) and shrinks
    /// the index, as Redis shrinks a dict that fell under 10% use.
    pub(super) fn maybe_compact(&mut self) {
        let len = self.len();
        if self.slots as usize > 2 * CHUNK && len * 4 < self.slots as usize {
            let mut order = Vec::with_capacity(len);
            let mut it = TreeIter::new(self, 0, false);
            while let Some(i) = it.next_node() {
                order.push(i);
            }
            // Members move to the new slots (no copies of long ones).
            let items: Vec<(SmallBytes, f64)> = order
                .into_iter()
                .map(|i| {
                    let n = self.node_mut(i);
                    (
                        std::mem::replace(&mut n.member, SmallBytes::new(&[])),
                        n.score,
                    )
                })
                .collect();
            let generation = self.generation.wrapping_add(1);
            *self = Indexed {
                hasher: self.hasher.clone(),
                rng: self.rng,
                generation,
                ..Indexed::new()
            };
            self.build(items.into_iter());
        } else if self.index.capacity() > 8 * len.max(16) {
            let (chunks, hasher) = (&self.chunks, &self.hasher);
            self.index.shrink_to(len, |&j| {
                hasher.hash_one(node_in(chunks, j).member.as_slice())
            });
        }
    }

    pub(super) fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        out: &mut Vec<(&'a [u8], f64)>,
    ) -> u64 {
        let tag = u64::from(self.generation & 0x7fff_ffff);
        let mut slot = if cursor >> 32 == tag {
            (cursor & 0xffff_ffff) as u32
        } else {
            0
        };
        let mut budget = count.saturating_mul(10).max(1);
        let start_len = out.len();
        while slot < self.slots && budget > 0 && out.len() - start_len < count {
            let n = self.node(slot);
            if n.size != 0 {
                out.push((n.member.as_slice(), n.score));
            }
            slot += 1;
            budget -= 1;
        }
        if slot >= self.slots {
            0
        } else {
            tag << 32 | u64::from(slot)
        }
    }
}

/// In-order walk from a rank, with an explicit stack: O(log n) to start, O(1) amortized per
/// step.
pub struct TreeIter<'a> {
    t: &'a Indexed,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> TreeIter<'a> {
    pub(super) fn new(t: &'a Indexed, rank: usize, rev: bool) -> TreeIter<'a> {
        let mut stack = Vec::new();
        let (mut x, mut r) = (t.root, rank as u32);
        while x != NIL {
            let n = t.node(x);
            let ls = t.sz(n.left);
            if r < ls {
                if !rev {
                    stack.push(x);
                }
                x = n.left;
            } else if r == ls {
                stack.push(x);
                break;
            } else {
                if rev {
                    stack.push(x);
                }
                r -= ls + 1;
                x = n.right;
            }
        }
        TreeIter { t, stack, rev }
    }

    pub(super) fn next_node(&mut self) -> Option<u32> {
        let x = self.stack.pop()?;
        let n = self.t.node(x);
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let cn = self.t.node(c);
            c = if self.rev { cn.right } else { cn.left };
        }
        Some(x)
    }
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let x = self.next_node()?;
        let n = self.t.node(x);
        Some((n.member.as_slice(), n.score))
    }
}
