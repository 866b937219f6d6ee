/* remote.pml: a Promela model of hakmem's cross-thread free protocol, for
 * the spin model checker. Run it with tools/check-model (make check-model).
 *
 * WHAT IS MODELLED
 *
 * One slab S of NB blocks (the SuperSlab is this one slab: releasing the
 * slab to the pool unmaps it), the heap structures of up to NHEAP threads
 * (reused through the free-heaps list, as in thread.c), the abandoned list
 * and its lock, the heaps lock, and four threads:
 *
 *   OWNER    allocates (taking S from the pool first), frees blocks
 *            (locally or remotely, whichever the code decides), exits;
 *   FREER    never allocates: frees blocks the others allocated, so it
 *            starts on hk_empty_heap and gets a heap only to adopt; exits;
 *   ADOPTER  allocates (adopting S when it is abandoned), frees, may call
 *            hk_thread_trim(), exits;
 *   FINISHER waits until the three others have exited, then does what the
 *            rest of a program's life does: frees every block still live,
 *            collects deliveries to exited threads (as an allocation that
 *            needs memory does before mapping), allocates once and frees
 *            that block (an allocation of the class adopts an abandoned
 *            slab), and exits.
 *
 * Live blocks are shared: any thread may free any live block (as through
 * the test programs' shared arrays), so every combination of local, remote,
 * delivered, adopted and orphaned frees is explored. Which thread frees
 * which block, and every interleaving of the threads' atomic steps, is
 * chosen by spin. Slabs other than S are abstracted: when the code would
 * take a slab from the pool or map one and S is not there, the thread gets
 * "another slab" (C_OTHER) and its allocations come from there; such a slab
 * may later run out, which sends the thread back to its partial list (S).
 *
 * PROPERTIES (each an assert; spin also reports deadlocks as invalid end
 * states, and tools/check-model runs a non-progress-cycle search for
 * livelocks)
 *
 *  P1 every block is in exactly one place: loc[b] (a ghost variable) says
 *     where, and every list operation asserts that a block comes from where
 *     loc says (so a block on two lists, or lost, is caught when it is next
 *     taken, pushed, drained or checked at the end);
 *  P2 no block is handed out twice: malloc asserts the block was on the
 *     free list or never used (loc FREE/BUMP), never live;
 *  P3 accounting: after every owner step, S.used == number of blocks that
 *     are live or in flight (not FREE/BUMP) -- the invariant of slab.h;
 *  P4 S is never released (to the pool, i.e. unmapped) while a block of it
 *     is live or in flight, and nothing touches S after its release
 *     (S_ACCESS in every step that reads or writes S, e.g. the remote
 *     freer's read of the owner after its CAS);
 *  P5 only the owner touches S's free list, used count and list position
 *     (OWNER_ONLY), or a thread holding the abandoned lock while S has no
 *     owner (trim); S is parked only when it is not a current slab;
 *  P6 at the end: every block is back (FREE/BUMP), no delivery is pending,
 *     and S went back to the pool; no thread holds a block in its hands at
 *     exit.
 *
 * GRANULARITY. One atomic step per atomic instruction of the C code (each
 * load, CAS and exchange of xtf, owner, delayed). Code that touches only
 * data of the slab's owner (free list, used, where, a heap's cur) is one
 * d_step: no other thread reads that data, which P5 checks. A lock-holding
 * critical section with no atomic instruction inside is one step guarded
 * by the lock being free. CAS is strong (a spurious failure of the C
 * code's weak CAS only retries with the same values). Memory order is
 * sequentially consistent: the acquire/release pairs of the C code are not
 * checked here (ThreadSanitizer runs cover them).
 *
 * NOT MODELLED: the every-64th collect made inside a collect (C recurses:
 * hk_heap_collect -> hk_free_block -> hk_heap_collect; the model makes that
 * collect only at the top level); fork; out-of-memory (a heap can always
 * be had; see -DATTACH_CAN_FAIL below); the block key and pointer checks.
 *
 * MAPPING TO THE C CODE. Each inline below names the C function it
 * mirrors. The anchors are statements of the C code that the model's
 * steps stand for; tools/check-model checks that each still appears in
 * src/ (so a change to the protocol shows up as a failing anchor and the
 * model gets updated with it). Format: "ANCHOR file: statement".
 *
 * hk_remote_push (remote.c) -> remote_push
 *   ANCHOR remote.c: if ((old & HK_XTF_STATE) == HK_XTF_NOTIFY) {
 *   ANCHOR remote.c: new = (old & ~HK_XTF_STATE) | HK_XTF_QUIET;
 *   ANCHOR remote.c: new = (uintptr_t)b | (old & HK_XTF_STATE);
 *   ANCHOR remote.c: struct hk_heap *h = atomic_load_explicit(&s->owner, memory_order_acquire);
 *   ANCHOR remote.c: while (!atomic_compare_exchange_weak_explicit(&h->delayed, &head, b, memory_order_release,
 * take / hk_remote_drain / hk_remote_drain_park (remote.c) -> take, drain, drain_park
 *   ANCHOR remote.c: new = state_after == HK_XTF_STATE ? (old & HK_XTF_STATE) : state_after;
 *   ANCHOR remote.c: if (PTR(atomic_load_explicit(&s->xtf, memory_order_relaxed)) == NULL)
 *   ANCHOR remote.c: return take(s, HK_XTF_NOTIFY);
 * hk_remote_unpark (remote.c) -> unpark
 *   ANCHOR remote.c: while ((old & HK_XTF_STATE) != HK_XTF_QUIET &&
 * hk_remote_splice (remote.c) -> splice   [-DSEED_BUG drops the subtraction]
 *   ANCHOR remote.c: if (HK_UNLIKELY(++n > s->used))
 *   ANCHOR remote.c: s->used -= n;
 * hk_tcache_alloc (tcache.h) -> do_alloc, fast path
 *   ANCHOR tcache.h: s->used++;
 * hk_free_fast (tcache.h) -> do_free, fast path
 *   ANCHOR tcache.h: if (HK_LIKELY(s && atomic_load_explicit(&s->owner, memory_order_relaxed) == h)) {
 *   ANCHOR tcache.h: if (HK_UNLIKELY(--s->used == 0))
 * hk_slab_emptied (tcache.c) -> slab_emptied   [-DNO_THREAD_CACHE: opt.thread_cache=0]
 *   ANCHOR tcache.c: if (s->where == HK_WHERE_CUR) {
 *   ANCHOR tcache.c: if (HK_OPT(thread_cache))
 * free_local (tcache.c) -> free_local
 *   ANCHOR tcache.c: if (s->where == HK_WHERE_FULL)
 * free_delivered (tcache.c) -> free_delivered
 *   ANCHOR tcache.c: if (s->where != HK_WHERE_CUR && !h->exiting)
 * hk_free_block (tcache.c) -> free_block_top (from free), free_block_inner
 * (from a collect)
 *   ANCHOR tcache.c: hk_heap *o = atomic_load_explicit(&s->owner, memory_order_acquire);
 *   ANCHOR tcache.c: if (h && hk_thread_adopt(h, s)) {
 *   ANCHOR tcache.c: hk_remote_push(s, b);
 *   ANCHOR tcache.c: if (hk_remote_push(s, b))
 *   ANCHOR tcache.c: if (++h->remote_since_collect >= HK_COLLECT_EVERY) {
 * hk_heap_collect (tcache.c) -> heap_collect
 *   ANCHOR tcache.c: hk_block *b = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
 *   ANCHOR tcache.c: if (atomic_load_explicit(&s->owner, memory_order_relaxed) == h)
 * take_block (tcache.c) -> take_block
 *   ANCHOR tcache.c: hk_remote_splice(s, hk_remote_drain(s));
 *   ANCHOR tcache.c: b = hk_slab_bump(s);
 * next_slab (tcache.c) -> next_slab
 *   ANCHOR tcache.c: s = hk_thread_adopt_any(h, cls);
 *   ANCHOR tcache.c: s = hk_pool_acquire(cls, false);
 *   ANCHOR tcache.c: hk_thread_collect_orphans(h);
 *   ANCHOR tcache.c: atomic_store_explicit(&s->owner, h, memory_order_release);
 * hk_alloc_slow (tcache.c) -> alloc_slow
 *   ANCHOR tcache.c: h->cur[cls] = &hk_empty_slab;
 *   ANCHOR tcache.c: hk_remote_splice(s, hk_remote_drain_park(s));
 *   ANCHOR tcache.c: move_to(h, s, s->free ? HK_WHERE_PARTIAL : HK_WHERE_FULL);
 *   ANCHOR tcache.c: hk_remote_unpark(s);
 *   ANCHOR tcache.c: s->where = HK_WHERE_CUR;
 * hk_thread_attach (thread.c) -> attach
 *   ANCHOR thread.c: free_heaps = h->next_free;
 *   ANCHOR thread.c: h->live = true;
 * heap_abandon / thread_exit (thread.c) -> thread_exit
 *   ANCHOR thread.c: each_slab(h, unpark);
 *   ANCHOR thread.c: h->exiting = true;
 *   ANCHOR thread.c: each_slab(h, abandon_slab);
 *   ANCHOR thread.c: h->live = false;
 * abandon_slab (thread.c) -> abandon_slab
 *   ANCHOR thread.c: s->where = HK_WHERE_ABANDONED;
 *   ANCHOR thread.c: atomic_store_explicit(&s->owner, NULL, memory_order_release);
 * hk_thread_adopt / take_adopted (thread.c) -> adopt
 *   ANCHOR thread.c: s->where == HK_WHERE_ABANDONED;
 *   ANCHOR thread.c: return atomic_load_explicit(&s->owner, memory_order_relaxed) == h;
 *   ANCHOR thread.c: s->where = HK_WHERE_PARTIAL;
 * hk_thread_adopt_any (thread.c) -> adopt_any
 *   ANCHOR thread.c: if (!atomic_load_explicit(&abandoned_count[cls], memory_order_relaxed))
 * hk_thread_collect_orphans (thread.c) -> collect_orphans
 *   ANCHOR thread.c: if (o->live || !atomic_load_explicit(&o->delayed, memory_order_relaxed))
 *   ANCHOR thread.c: hk_free_block(h, hk_superslab_slab_of(e, list), list);
 * hk_thread_trim: flush_slab, release_empty_abandoned (thread.c) -> trim
 *   ANCHOR thread.c: hk_thread_flush();
 *   ANCHOR thread.c: hk_thread_collect_orphans(hk_tls_heap);
 *   ANCHOR thread.c: release_empty_abandoned();
 * hk_pool_release (pool.c) -> pool_release
 *   ANCHOR pool.c: atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
 * hk_slab_init (slab.c) -> pool_acquire_mapped
 *   ANCHOR slab.c: atomic_store_explicit(&s->xtf, HK_XTF_QUIET, memory_order_relaxed);
 *
 * MACROS (spin -D...):
 *   NB=n              blocks in the slab (default 3)
 *   SEED_BUG          hk_remote_splice does not subtract from used (the
 *                     accounting bug of the seed): must be caught
 *   NO_ACCOUNTING_CHECK  leave out P3, so that a broken accounting shows
 *                     through its consequence (a slab never released)
 *   NO_THREAD_CACHE   opt.thread_cache = 0 (emptied current slabs go back)
 *   NO_TRIM           the adopter never calls hk_thread_trim()
 *   ATTACH_CAN_FAIL   a heap-less thread's hk_thread_attach() may fail
 *                     (out of memory)
 *   NO_FINAL_ALLOC    the finisher does not allocate before it exits (only
 *                     a later free, a collect or a trim may adopt)
 */

#ifndef NB
#define NB 3
#endif
#define NHEAP 4			/* heap structures: ids 1..NHEAP */
#define NOHEAP 0		/* NULL */
#define EMPTYH (NHEAP + 1)	/* &hk_empty_heap */

/* xtf = (head block << 1) | state */
#define QUIET 0
#define NOTIFY 1
#define KEEP 2			/* take(): keep the state (HK_XTF_STATE) */
#define PTR(x) ((x) >> 1)
#define STATE(x) ((x) & 1)

/* s->where */
#define W_NONE 0
#define W_CUR 1
#define W_PARTIAL 2
#define W_FULL 3
#define W_ABANDONED 4

/* h->cur[cls] */
#define C_EMPTY 0		/* &hk_empty_slab */
#define C_S 1			/* the slab S */
#define C_OTHER 2		/* a slab that is not modelled */

/* Ghost: where each block is. */
#define L_BUMP 1		/* never handed out */
#define L_FREE 2		/* on S's free list */
#define L_XTF 3			/* on S's remote-free list */
#define L_USER 4		/* live: the program holds it */
#define L_DELAYED 8		/* + heap: on that heap's delayed list */
#define L_HAND 16		/* + thread: in that thread's hands */

/* Roles */
#define OWNER 1
#define FREER 2
#define ADOPTER 3
#define FINISHER 4

/* Budgets of the user-level operations. */
#ifndef OWNER_ALLOCS
#define OWNER_ALLOCS (NB + 1)
#endif
#ifndef OWNER_FREES
#define OWNER_FREES 2
#endif
#ifndef FREER_FREES
#define FREER_FREES 2
#endif
#ifndef ADOPTER_ALLOCS
#define ADOPTER_ALLOCS 1
#endif
#ifndef ADOPTER_FREES
#define ADOPTER_FREES 1
#endif

/* --- State ------------------------------------------------------------- */

byte loc[NB + 1];		/* ghost; block 0 is NULL */
byte nxt[NB + 1];		/* b->next */

/* The slab S (hk_slab) */
byte s_free;			/* free list head */
byte s_used;
byte s_bump = 1;		/* next never-used block; NB + 1: none left */
byte s_owner;			/* _Atomic owner: heap id or NOHEAP */
byte s_where;
byte xtf;			/* _Atomic xtf */
bool s_inpool = true;		/* in the pool, never used yet */
bool s_released;		/* went back to the pool (unmapped) */

/* Heaps (hk_heap); index EMPTYH is hk_empty_heap */
byte h_delayed[NHEAP + 2];	/* _Atomic delayed: list head */
bool h_live[NHEAP + 2];
bool h_exiting[NHEAP + 2];
byte h_cur[NHEAP + 2];		/* cur[cls] of the modelled class */
byte nheaps;			/* all_heaps: ids 1..nheaps */
byte freeh[NHEAP + 1];		/* free_heaps, a stack */
byte nfree;

byte heaps_lock;		/* holder's thread id, 0: free */
byte abandoned_lock;
byte ab_count;			/* abandoned_count[cls] */
byte ndone;			/* threads that have exited */

/* Scratch for loops inside one d_step/atomic step; always left at 0. */
hidden byte gw, sp_n, sp_t, ca_i, ca_n;

/* --- Helpers ----------------------------------------------------------- */

#define S_ACCESS assert(!s_released)	/* P4: S is still mapped */

/* P5: the caller owns S (or holds the abandoned lock while S has none). */
#define OWNER_ONLY(hh) \
	assert(!s_released && (s_owner == (hh) || ((hh) == NOHEAP && abandoned_lock == me)))

/* Is S on heap hh's lists (cur, partial or full)? Ghost. */
#define S_IN_LISTS(hh) \
	(!s_released && s_owner == (hh) && (s_where == W_CUR || s_where == W_PARTIAL || s_where == W_FULL))
#define S_IN_PARTIAL(hh) (!s_released && s_owner == (hh) && s_where == W_PARTIAL)

#define IS_FREE(b) (loc[b] == L_FREE || loc[b] == L_BUMP)

#if NB == 2
#define ANY_LIVE (loc[1] == L_USER || loc[2] == L_USER)
#elif NB == 3
#define ANY_LIVE (loc[1] == L_USER || loc[2] == L_USER || loc[3] == L_USER)
#elif NB == 4
#define ANY_LIVE (loc[1] == L_USER || loc[2] == L_USER || loc[3] == L_USER || loc[4] == L_USER)
#else
#error "NB must be 2, 3 or 4"
#endif

/* Pick a live block into fr (the program passes it to free). */
inline pick_live() {
	if
	:: loc[1] == L_USER -> fr = 1
	:: loc[2] == L_USER -> fr = 2
#if NB >= 3
	:: loc[3] == L_USER -> fr = 3
#endif
#if NB >= 4
	:: loc[4] == L_USER -> fr = 4
#endif
	fi
}

/* Ghost: every block of list l was at `from`; now it is in my hands. */
inline grab(l, from) {
	gw = l;
	do
	:: gw != 0 -> assert(loc[gw] == from); loc[gw] = L_HAND + me; gw = nxt[gw]
	:: else -> break
	od;
	gw = 0
}

/* P3 */
inline check_accounting() {
#ifndef NO_ACCOUNTING_CHECK
	ca_i = 1;
	ca_n = 0;
	do
	:: ca_i <= NB ->
		if
		:: !IS_FREE(ca_i) -> ca_n++
		:: else -> skip
		fi;
		ca_i++
	:: else -> break
	od;
	assert(ca_n == s_used);
	ca_i = 0;
	ca_n = 0
#endif
}

inline lock(l) {
	atomic { l == 0 -> l = me }
}

inline unlock(l) {
	assert(l == me);
	l = 0
}

/* --- remote.c ---------------------------------------------------------- */

/* hk_remote_push(S, pb) -> rp_ret */
inline remote_push(pb) {
	d_step {	/* the CAS loop: one read-modify-write of xtf */
		S_ACCESS;
		rp_old = xtf;
		if
		:: STATE(rp_old) == NOTIFY -> xtf = rp_old - NOTIFY
		:: else ->
			nxt[pb] = PTR(rp_old);
			xtf = (pb << 1) | STATE(rp_old);
			assert(loc[pb] == L_HAND + me);
			loc[pb] = L_XTF
		fi
	};
	if
	:: STATE(rp_old) != NOTIFY -> rp_ret = true
	:: else ->
		/* b is still counted in used: S cannot have gone back. */
		atomic { S_ACCESS; rp_o = s_owner };
		if
		:: rp_o == NOHEAP -> rp_ret = false
		:: else ->
			d_step {	/* the CAS loop onto h->delayed */
				nxt[pb] = h_delayed[rp_o];
				h_delayed[rp_o] = pb;
				assert(loc[pb] == L_HAND + me);
				loc[pb] = L_DELAYED + rp_o
			};
			rp_ret = true
		fi
	fi;
	rp_old = 0;
	rp_o = 0
}

/* take(S, sa) -> lst; sa is KEEP or NOTIFY */
inline take(sa) {
	d_step {	/* the CAS loop: one read-modify-write of xtf */
		S_ACCESS;
		if
		:: sa == KEEP -> lst = PTR(xtf); xtf = STATE(xtf)
		:: else -> lst = PTR(xtf); xtf = sa
		fi;
		grab(lst, L_XTF)
	}
}

/* hk_remote_drain(S) -> lst */
inline drain() {
	if
	:: PTR(xtf) == 0 -> S_ACCESS; lst = 0
	:: else -> take(KEEP)
	fi
}

/* hk_remote_drain_park(S) -> lst */
inline drain_park() {
	take(NOTIFY)
}

/* hk_remote_unpark(S) */
inline unpark() {
	d_step {	/* the load and CAS loop: one read-modify-write */
		S_ACCESS;
		if
		:: STATE(xtf) == NOTIFY -> xtf = xtf - NOTIFY
		:: else -> skip
		fi
	}
}

/* hk_remote_splice(S, lst), by hh (NOHEAP: under the abandoned lock) */
inline splice(hh) {
	if
	:: lst == 0 -> skip
	:: else ->
		d_step {
			OWNER_ONLY(hh);
			sp_n = 1;
			sp_t = lst;
			do
			:: nxt[sp_t] != 0 ->
				sp_t = nxt[sp_t];
				sp_n++;
				assert(sp_n <= s_used)	/* hk_fatal: heap corruption */
			:: else -> break
			od;
			assert(sp_n <= s_used);		/* hk_fatal: heap corruption */
			gw = lst;
			do
			:: gw != 0 -> assert(loc[gw] == L_HAND + me); loc[gw] = L_FREE; gw = nxt[gw]
			:: else -> break
			od;
			nxt[sp_t] = s_free;
			s_free = lst;
#ifndef SEED_BUG
			s_used = s_used - sp_n;
#endif
			lst = 0;
			sp_n = 0;
			sp_t = 0;
			check_accounting()
		}
	fi
}

/* --- pool.c, slab.c ---------------------------------------------------- */

/* hk_pool_release(S) by hh: P4 */
inline pool_release(hh) {
	d_step {
		OWNER_ONLY(hh);
		assert(s_used == 0);
		ca_i = 1;
		do
		:: ca_i <= NB -> assert(IS_FREE(ca_i)); ca_i++
		:: else -> break
		od;
		ca_i = 0;
		assert(s_where != W_ABANDONED);	/* not on the abandoned list */
		s_owner = NOHEAP;
		s_released = true
	}
}

/* hk_pool_acquire(cls, false) -> ns: S if it is in the pool; otherwise
 * another mapped slab (C_OTHER) or none (0). hk_slab_init. */
inline pool_acquire_mapped() {
	atomic {
		if
		:: s_inpool ->
			s_inpool = false;
			s_free = 0;
			s_used = 0;
			s_bump = 1;
			s_where = W_NONE;
			xtf = QUIET;
			ns = C_S
		:: !s_inpool -> ns = C_OTHER
		:: !s_inpool -> ns = 0
		fi
	}
}

/* --- tcache.c ---------------------------------------------------------- */

/* hk_slab_emptied(hh, S) */
inline slab_emptied(hh) {
#ifdef NO_THREAD_CACHE
	d_step {
		OWNER_ONLY(hh);
		if
		:: s_where == W_CUR -> h_cur[hh] = C_EMPTY
		:: else -> skip
		fi;
		s_where = W_NONE
	};
	pool_release(hh)
#else
	if
	:: s_where == W_CUR -> OWNER_ONLY(hh)
	:: else -> d_step { OWNER_ONLY(hh); s_where = W_NONE }; pool_release(hh)
	fi
#endif
}

/* free_local(hh, S, pb) */
inline free_local(hh, pb) {
	d_step {
		OWNER_ONLY(hh);
		assert(loc[pb] == L_HAND + me);
		nxt[pb] = s_free;
		s_free = pb;
		loc[pb] = L_FREE;
		s_used--;
		if
		:: s_where == W_FULL -> s_where = W_PARTIAL
		:: else -> skip
		fi;
		check_accounting();
		emptied = (s_used == 0)
	};
	if
	:: emptied -> emptied = false; slab_emptied(hh)
	:: else -> skip
	fi
}

/* free_delivered(hh, S, pb) */
inline free_delivered(hh, pb) {
	d_step {
		OWNER_ONLY(hh);
		assert(loc[pb] == L_HAND + me);
		nxt[pb] = s_free;
		s_free = pb;
		loc[pb] = L_FREE;
		s_used--;
		check_accounting();
		emptied = (s_where != W_CUR && !h_exiting[hh])	/* reused as a flag */
	};
	if
	:: emptied -> emptied = false; drain_park(); splice(hh)
	:: else -> skip
	fi;
	d_step {
		OWNER_ONLY(hh);
		if
		:: s_where == W_FULL -> s_where = W_PARTIAL
		:: else -> skip
		fi;
		emptied = (s_used == 0)
	};
	if
	:: emptied -> emptied = false; slab_emptied(hh)
	:: else -> skip
	fi
}

/* hk_thread_adopt(hh, S) -> ad_mine */
inline adopt(hh) {
	atomic {
		abandoned_lock == 0;
		S_ACCESS;
		ad_mine = (s_owner == NOHEAP && s_where == W_ABANDONED);
		if
		:: ad_mine -> ab_count--; s_where = W_NONE; s_owner = hh	/* take_adopted */
		:: else -> skip
		fi
	};
	if
	:: !ad_mine -> atomic { S_ACCESS; ad_mine = (s_owner == hh) }
	:: else -> drain_park(); splice(hh); d_step { OWNER_ONLY(hh); s_where = W_PARTIAL }
	fi
}

/* hk_thread_adopt_any(hh, cls) -> got */
inline adopt_any(hh) {
	if
	:: ab_count == 0 -> got = false
	:: else ->
		atomic {
			abandoned_lock == 0;
			if
			:: !s_released && s_where == W_ABANDONED ->
				ab_count--;
				s_where = W_NONE;
				s_owner = hh;
				got = true
			:: else -> got = false
			fi
		}
	fi
}

/* hk_free_block(hh, S, pb) called from a collect: hh is a real heap. (The
 * every-64th collect it may make is not modelled here.) */
inline free_block_inner(hh, pb) {
	do
	:: atomic { S_ACCESS; fi_o = s_owner };
		if
		:: fi_o == hh -> free_local(hh, pb); break
		:: fi_o == NOHEAP ->
			adopt(hh);
			if
			:: ad_mine -> ad_mine = false; free_local(hh, pb); break
			:: else -> skip
			fi
		:: else ->
			remote_push(pb);
			if
			:: rp_ret -> rp_ret = false; break
			:: else -> skip
			fi
		fi
	od;
	fi_o = 0
}

/* hk_heap_collect(hh) */
inline heap_collect(hh) {
	if
	:: h_delayed[hh] == 0 -> skip
	:: else ->
		atomic { cl = h_delayed[hh]; h_delayed[hh] = 0; grab(cl, L_DELAYED + hh) };
		do
		:: cl == 0 -> break
		:: else ->
			atomic { cb = cl; cl = nxt[cb]; S_ACCESS; cbo = s_owner };
			if
			:: cbo == hh -> cbo = 0; free_delivered(hh, cb)
			:: else -> cbo = 0; free_block_inner(hh, cb)
			fi;
			cb = 0
		od
	fi
}

/* hk_thread_collect_orphans(hh) */
inline collect_orphans(hh) {
	lock(heaps_lock);
	co_i = 1;
	do
	:: co_i <= nheaps ->
		atomic {
			if
			:: !h_live[co_i] && h_delayed[co_i] != 0 ->
				co_b = h_delayed[co_i];
				h_delayed[co_i] = 0;
				grab(co_b, L_DELAYED + co_i);
				do
				:: co_b != 0 -> co_nx = nxt[co_b]; nxt[co_b] = co_list; co_list = co_b; co_b = co_nx
				:: else -> break
				od
			:: else -> skip
			fi;
			co_i++
		}
	:: else -> break
	od;
	co_i = 0;
	co_nx = 0;
	unlock(heaps_lock);
	do
	:: co_list == 0 -> break
	:: else ->
		atomic { co_b = co_list; co_list = nxt[co_b] };
		free_block_inner(hh, co_b);
		co_b = 0
	od
}

/* hk_thread_attach() -> h (hk_tls_heap) */
inline attach() {
	atomic {
		heaps_lock == 0;
		if
		:: nfree > 0 -> nfree--; at_h = freeh[nfree]; freeh[nfree] = 0
		:: else -> at_h = 0
		fi
	};
	if
	:: at_h == 0 ->
		/* hk_meta_alloc, then onto all_heaps */
		atomic { heaps_lock == 0; nheaps++; assert(nheaps <= NHEAP); at_h = nheaps }
	:: else -> skip
	fi;
	d_step { h_cur[at_h] = C_EMPTY; h_exiting[at_h] = false };	/* reset_heap */
	h_live[at_h] = true;
	h = at_h;
	at_h = 0;
	heap_collect(h)		/* blocks delivered after its previous thread left */
}

/* hk_free_block(h, S, pb) from free(): h is this thread's hk_tls_heap,
 * maybe hk_empty_heap. */
inline free_block_top(pb) {
	fb_h = h;
	do
	:: atomic { S_ACCESS; fb_o = s_owner };
		if
		:: fb_o == fb_h -> free_local(fb_h, pb); fb_placed = true; break
		:: fb_o == NOHEAP ->
			if
			:: fb_h == EMPTYH ->
#ifdef ATTACH_CAN_FAIL
				if
				:: attach(); fb_h = h
				:: fb_h = NOHEAP	/* out of memory */
				fi
#else
				attach();
				fb_h = h
#endif
			:: else -> skip
			fi;
			if
			:: fb_h != NOHEAP ->
				adopt(fb_h);
				if
				:: ad_mine -> ad_mine = false; free_local(fb_h, pb); fb_placed = true; break
				:: else -> skip
				fi
			:: else ->
				/* No heap: leave the block on the slab (the return
				 * value of hk_remote_push is not looked at). */
				remote_push(pb);
				rp_ret = false;
				fb_placed = true;
				break
			fi
		:: else ->
			remote_push(pb);
			if
			:: rp_ret -> rp_ret = false; break
			:: else -> skip
			fi
		fi
	od;
	if
	:: !fb_placed && fb_h != EMPTYH ->
		/* ++remote_since_collect >= HK_COLLECT_EVERY: maybe */
		if
		:: true -> heap_collect(fb_h)
		:: true -> skip
		fi
	:: else -> skip
	fi;
	fb_placed = false;
	fb_o = 0;
	fb_h = 0
}

/* The program calls free(b) on a live block b, if cond and there is one:
 * an option's guard, so that checking and picking are one step. */
#define FREE_SOME(cond) \
	atomic { (cond) && ANY_LIVE -> pick_live(); loc[fr] = L_HAND + me; S_ACCESS; df_o = s_owner }

/* free(fr), after FREE_SOME: hk_free_fast, else hk_free_slow ->
 * hk_free_block */
inline do_free() {
	if
	:: df_o == h && s_free != 0 ->
		d_step {
			OWNER_ONLY(h);
			nxt[fr] = s_free;
			s_free = fr;
			loc[fr] = L_FREE;
			s_used--;
			check_accounting();
			emptied = (s_used == 0)
		};
		if
		:: emptied -> emptied = false; slab_emptied(h)
		:: else -> skip
		fi
	:: else -> free_block_top(fr)
	fi;
	fr = 0;
	df_o = 0
}

/* take_block(S) -> tb_b */
inline take_block() {
	if
	:: s_free == 0 -> OWNER_ONLY(h); drain(); splice(h)
	:: else -> skip
	fi;
	d_step {
		OWNER_ONLY(h);
		tb_b = s_free;
		if
		:: tb_b != 0 -> assert(loc[tb_b] == L_FREE); s_free = nxt[tb_b]
		:: else ->
			if
			:: s_bump <= NB -> tb_b = s_bump; s_bump++; assert(loc[tb_b] == L_BUMP)
			:: else -> skip
			fi
		fi;
		if
		:: tb_b != 0 -> loc[tb_b] = L_USER; nxt[tb_b] = 0; s_used++	/* P2 */
		:: else -> skip
		fi;
		check_accounting()
	}
}

/* next_slab(h, cls) -> ns (C_S or C_OTHER) */
inline next_slab() {
	if
	:: S_IN_PARTIAL(h) -> d_step { OWNER_ONLY(h); s_where = W_NONE }; ns = C_S
	:: else ->
		adopt_any(h);
		if
		:: got -> got = false; ns = C_S
		:: else ->
			pool_acquire_mapped();
			if
			:: ns == C_S -> s_owner = h	/* from the pool */
			:: ns == C_OTHER -> skip
			:: ns == 0 ->
				collect_orphans(h);
				if
				:: S_IN_PARTIAL(h) -> d_step { OWNER_ONLY(h); s_where = W_NONE }; ns = C_S
				:: else -> ns = C_OTHER	/* hk_pool_acquire(cls, true) */
				fi
			fi
		fi
	fi
}

/* hk_alloc_slow(cls) */
inline alloc_slow() {
	if
	:: h == EMPTYH -> attach()
	:: else -> skip
	fi;
	heap_collect(h);
	do
	:: if
	   :: h_cur[h] == C_S ->
		take_block();
		if
		:: tb_b != 0 -> tb_b = 0; break
		:: else ->
			/* Exhausted: park it until frees come back. */
			d_step { OWNER_ONLY(h); h_cur[h] = C_EMPTY };
			drain_park();
			splice(h);
			d_step { OWNER_ONLY(h); s_where = (s_free != 0 -> W_PARTIAL : W_FULL) }
		fi
	   :: h_cur[h] == C_OTHER ->
		if
		:: break			/* a block of that slab */
		:: h_cur[h] = C_EMPTY	/* that slab is exhausted too */
		fi
	   :: else -> skip
	   fi;
	   next_slab();
	   if
	   :: ns == C_OTHER -> ns = 0; h_cur[h] = C_OTHER; break
	   :: ns == C_S ->
		ns = 0;
		unpark();
		drain();
		splice(h);
		d_step { OWNER_ONLY(h); s_where = W_CUR; h_cur[h] = C_S }
	   fi
	od
}

/* malloc(): hk_tcache_alloc, else hk_alloc_slow */
inline do_alloc() {
	if
	:: h != EMPTYH && h_cur[h] == C_S && s_free != 0 ->
		d_step {
			OWNER_ONLY(h);
			assert(STATE(xtf) == QUIET);	/* P5: a current slab is not parked */
			tb_b = s_free;
			assert(loc[tb_b] == L_FREE);	/* P2 */
			s_free = nxt[tb_b];
			loc[tb_b] = L_USER;
			nxt[tb_b] = 0;
			s_used++;
			check_accounting();
			tb_b = 0
		}
	:: else -> alloc_slow()
	fi
}

/* --- thread.c ---------------------------------------------------------- */

/* abandon_slab(h, S) */
inline abandon_slab() {
	drain();
	splice(h);
	if
	:: s_used == 0 -> pool_release(h)
	:: else ->
		atomic {
			abandoned_lock == 0;
			OWNER_ONLY(h);
			s_where = W_ABANDONED;
			s_owner = NOHEAP;
			ab_count++
		}
	fi
}

/* thread_exit -> heap_abandon(h), then h onto free_heaps */
inline thread_exit() {
	if
	:: h == EMPTYH -> skip
	:: else ->
		heap_collect(h);
		if
		:: S_IN_LISTS(h) -> unpark()	/* each_slab(h, unpark) */
		:: else -> skip
		fi;
		h_exiting[h] = true;
		heap_collect(h);
		if
		:: S_IN_LISTS(h) -> abandon_slab()	/* each_slab(h, abandon_slab) */
		:: else -> assert(s_released || s_owner != h)
		fi;
		d_step { h_cur[h] = C_EMPTY; h_exiting[h] = false };	/* reset_heap */
		atomic { heaps_lock == 0; h_live[h] = false; freeh[nfree] = h; nfree++ };
		h = EMPTYH
	fi;
	/* P6: nothing left in this thread's hands */
	d_step {
		ca_i = 1;
		do
		:: ca_i <= NB -> assert(loc[ca_i] != L_HAND + me); ca_i++
		:: else -> break
		od;
		ca_i = 0
	}
}

#ifndef NO_TRIM
/* hk_thread_trim(): hk_thread_flush (flush_slab on S if ours),
 * hk_thread_collect_orphans, release_empty_abandoned. */
inline trim() {
	if
	:: h != EMPTYH ->
		heap_collect(h);
		if
		:: S_IN_LISTS(h) ->
			d_step {
				OWNER_ONLY(h);
				if
				:: h_cur[h] == C_S -> h_cur[h] = C_EMPTY; s_where = W_PARTIAL
				:: else -> skip
				fi
			};
			drain_park();
			splice(h);
			if
			:: s_used == 0 -> d_step { OWNER_ONLY(h); s_where = W_NONE }; pool_release(h)
			:: else -> skip
			fi
		:: else -> skip
		fi
	:: else -> skip
	fi;
	collect_orphans(h);	/* with hk_tls_heap, maybe hk_empty_heap */
	/* release_empty_abandoned() */
	lock(abandoned_lock);
	if
	:: !s_released && s_where == W_ABANDONED ->
		drain();
		splice(NOHEAP);
		if
		:: s_used == 0 ->
			d_step { OWNER_ONLY(NOHEAP); ab_count--; s_where = W_NONE };
			unlock(abandoned_lock);
			/* hk_pool_release, outside the lock: S has no owner */
			d_step {
				assert(s_owner == NOHEAP && s_used == 0);
				ca_i = 1;
				do
				:: ca_i <= NB -> assert(IS_FREE(ca_i)); ca_i++
				:: else -> break
				od;
				ca_i = 0;
				s_released = true
			}
		:: else -> unlock(abandoned_lock)
		fi
	:: else -> unlock(abandoned_lock)
	fi
}
#endif

/* --- Threads ----------------------------------------------------------- */

proctype thread(byte me; byte role)
{
	byte h = EMPTYH;	/* hk_tls_heap */
	byte fr, df_o, tb_b, ns, lst;
	byte rp_old, rp_o;
	byte fb_h, fb_o, fi_o, at_h, cl, cb, cbo;
	byte co_i, co_b, co_nx, co_list;
	bool rp_ret, ad_mine, got, emptied, fb_placed;
	byte nalloc, nfreed;

	if
	:: role == OWNER ->
		do
		:: nalloc < OWNER_ALLOCS -> do_alloc(); nalloc++
		:: FREE_SOME(nfreed < OWNER_FREES); do_free(); nfreed++
		:: break
		od
	:: role == FREER ->
		do
		:: FREE_SOME(nfreed < FREER_FREES); do_free(); nfreed++
		:: break
		od
	:: role == ADOPTER ->
		do
		:: nalloc < ADOPTER_ALLOCS -> do_alloc(); nalloc++
		:: FREE_SOME(nfreed < ADOPTER_FREES); do_free(); nfreed++
#ifndef NO_TRIM
		:: nfreed == ADOPTER_FREES && h != EMPTYH -> trim(); nfreed++
#endif
		:: break
		od
	:: role == FINISHER ->
		ndone == 3;
		do
		:: FREE_SOME(true); do_free()
		:: else -> break
		od;
		if
		:: h == EMPTYH -> attach()
		:: else -> skip
		fi;
		collect_orphans(h);
#ifndef NO_FINAL_ALLOC
		nalloc = 0;
		do_alloc();
		if
		:: FREE_SOME(true); do_free()
		:: else -> skip
		fi
#endif
	fi;
	thread_exit();
	if
	:: role != FINISHER -> ndone++
	:: else ->
		/* P6 */
		d_step {
			assert(s_released || s_inpool);
			ca_i = 1;
			do
			:: ca_i <= NB -> assert(IS_FREE(ca_i)); ca_i++
			:: else -> break
			od;
			ca_i = 1;
			do
			:: ca_i <= NHEAP -> assert(h_delayed[ca_i] == 0); ca_i++
			:: else -> break
			od;
			ca_i = 0;
			assert(heaps_lock == 0 && abandoned_lock == 0)
		}
	fi
}

init {
	byte i = 1;
	d_step {
		do
		:: i <= NB -> loc[i] = L_BUMP; i++
		:: else -> break
		od;
		i = 0
	};
	atomic {
		run thread(1, OWNER);
		run thread(2, FREER);
		run thread(3, ADOPTER);
		run thread(4, FINISHER)
	}
}
