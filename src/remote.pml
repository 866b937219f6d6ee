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
 *            hk_trim(), exits;
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
 *     are live or in flight (not FREE/BUMP), plus one while S is pinned as
 *     its heap's current slab -- the invariant of slab.h;
 *  P4 S is never released (to the pool, i.e. unmapped) while a block of it
 *     is live or in flight, and nothing touches S after its release
 *     (S_ACCESS in every step that reads or writes S, e.g. the remote
 *     freer's read of the owner after its CAS);
 *  P5 only the owner touches S's free list, used count and list position
 *     (OWNER_ONLY), or a thread holding the abandoned lock while S has no
 *     owner (trim); the owner word's full tag matches the full list. (A
 *     current slab may be parked: a slab taken from the partial list keeps
 *     its state, and a remote free into it is delivered to its owner.)
 *  P6 at the end: every block is back (FREE/BUMP), no delivery is pending,
 *     and S went back to the pool; no thread holds a block in its hands at
 *     exit.
 *
 * GRANULARITY. Each step of the model holds exactly one shared action of
 * the C code -- an atomic operation on xtf, owner or a heap's delayed list,
 * or a critical section of a lock -- plus
 * the owner-private work next to it (free list, used, pinned, where, a
 * heap's cur: data only the owner touches, as OWNER_ONLY checks). A CAS
 * loop is one read-modify-write at its successful CAS (its computation
 * depends only on the word it read, and what it writes before the CAS is
 * private until the CAS publishes it). A relaxed pre-check that the code
 * re-validates is merged with what it guards (hk_remote_drain's NULL test,
 * hk_heap_collect's test before the exchange, abandoned_count before the
 * lock): each is linearisable at one point. hk_free_fast's owner read
 * doubles as hk_free_block's first one (the read alone has no effect, and
 * only the reading thread can make itself the owner). The loop of
 * hk_thread_collect_orphans under the heaps lock is one step. Memory order
 * is sequentially consistent: the acquire/release pairs of the C code are
 * not checked here (the ThreadSanitizer runs of tools/check-sanitizers
 * cover them).
 *
 * NOT MODELLED: the every-64th collect made inside a collect (C recurses:
 * hk_heap_collect -> hk_free_block -> hk_heap_collect; the model makes that
 * collect only at the top level); hardened mode's quarantine and the
 * Valgrind path (both only send frees to the slow path); fork; out of
 * memory (a heap can always be had, but see ATTACH_CAN_FAIL); the block
 * key and pointer checks; slabs other than S (C_OTHER above).
 *
 * MAPPING TO THE C CODE. Each inline below names the C function it
 * mirrors. The anchors are statements of the C code that the model's steps
 * stand for; tools/check-model checks that each one still appears in the
 * file of src/ it names, so that a change to the protocol shows up and the
 * model is updated with it.
 *
 * hk_remote_push (remote.c) -> remote_push
 *   ANCHOR remote.c: if ((old & HK_XTF_STATE) == HK_XTF_NOTIFY) {
 *   ANCHOR remote.c: new = (old & ~HK_XTF_STATE) | HK_XTF_QUIET;
 *   ANCHOR remote.c: new = (uintptr_t)b | (old & HK_XTF_STATE);
 *   ANCHOR remote.c: struct hk_heap *h = hk_slab_owner(s);
 *   ANCHOR remote.c: while (!atomic_compare_exchange_weak_explicit(&h->delayed, &head, b, memory_order_release,
 * take, hk_remote_drain, hk_remote_drain_park (remote.c) -> DRAIN_BODY, DRAIN_PARK_BODY
 *   ANCHOR remote.c: new = state_after == HK_XTF_STATE ? (old & HK_XTF_STATE) : state_after;
 *   ANCHOR remote.c: if (PTR(atomic_load_explicit(&s->xtf, memory_order_relaxed)) == NULL)
 *   ANCHOR remote.c: return take(s, HK_XTF_NOTIFY);
 * hk_remote_unpark (remote.c) -> UNPARK_BODY
 *   ANCHOR remote.c: while ((old & HK_XTF_STATE) != HK_XTF_QUIET &&
 * hk_remote_splice (remote.c) -> SPLICE_BODY   [SEED_BUG drops the subtraction]
 *   ANCHOR remote.c: if (HK_UNLIKELY(++n > s->used))
 *   ANCHOR remote.c: s->used -= n;
 * the owner word and its full tag (slab.h) -> s_owner, s_ofull
 *   ANCHOR slab.h: #define HK_OWNER_FULL ((uintptr_t)1)
 * hk_tcache_alloc (tcache.h) -> do_alloc's fast path
 *   ANCHOR tcache.h: s->used++;
 * hk_free_fast (tcache.h) -> free_begin
 *   ANCHOR tcache.h: if (HK_LIKELY(s && atomic_load_explicit(&s->owner, memory_order_relaxed) == (uintptr_t)h &&
 *   ANCHOR tcache.h: if (HK_UNLIKELY(--s->used == 0))
 * hk_heap_move, hk_slab_unpin, hk_slab_emptied (heap.c) -> where/s_ofull updates, UNPIN_BODY, slab_emptied
 *   ANCHOR heap.c: atomic_store_explicit(&s->owner, owner, memory_order_release);
 *   ANCHOR heap.c: s->pinned = 0;
 *   ANCHOR heap.c: *hk_heap_cur(h, cls) = &hk_empty_slab;
 * free_local (tcache.c) -> FREE_LOCAL_BODY
 *   ANCHOR tcache.c: if (s->where == HK_WHERE_FULL)
 * free_delivered (tcache.c) -> in heap_collect
 *   ANCHOR tcache.c: if (s->where != HK_WHERE_CUR && !h->exiting)
 * hk_free_block (tcache.c) -> free_block_top (from free), free_block_inner (from a collect)
 *   ANCHOR tcache.c: hk_heap *o = hk_slab_owner(s);
 *   ANCHOR tcache.c: if (h && hk_heap_adopt(h, s)) {
 *   ANCHOR tcache.c: while (!hk_remote_push(s, b))
 *   ANCHOR tcache.c: if (hk_remote_push(s, b))
 * free_remote (tcache.c), from hk_free_slow when the owner word it read
 * names another heap -> free_block_top's first round with that owner
 * (the push; on failure hk_free_block starts over, as the loop does)
 *   ANCHOR tcache.c: if (o && o != (uintptr_t)hk_tls_self && s->block_size) {
 *   ANCHOR tcache.c: if (HK_LIKELY(hk_remote_push(s, b))) {
 * remote_counted (tcache.c), after both -> the collect at free_block_top's end
 *   ANCHOR tcache.c: if (HK_LIKELY(++h->remote_since_collect < HK_COLLECT_EVERY))
 * hk_heap_collect (tcache.c) -> heap_collect
 *   ANCHOR tcache.c: hk_block *b = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
 *   ANCHOR tcache.c: if (hk_slab_owner(s) == h)
 * take_block (tcache.c) -> in alloc_slow, POP_BODY
 *   ANCHOR tcache.c: hk_remote_splice(s, hk_remote_drain(s));
 *   ANCHOR tcache.c: b = hk_slab_bump(s);
 * next_slab (tcache.c) -> next_slab
 *   ANCHOR tcache.c: s = hk_heap_adopt_any(h, cls);
 *   ANCHOR tcache.c: s = hk_pool_acquire(cls, false);
 *   ANCHOR tcache.c: hk_thread_collect_orphans(h);
 *   ANCHOR tcache.c: hk_heap_move(h, s, HK_WHERE_NONE);
 * alloc_slow (tcache.c) -> alloc_slow
 *   ANCHOR tcache.c: hk_slab_unpin(s);
 *   ANCHOR tcache.c: hk_remote_splice(s, hk_remote_drain_park(s));
 *   ANCHOR tcache.c: hk_slab_emptied(h, s);
 *   ANCHOR tcache.c: hk_heap_move(h, s, s->free ? HK_WHERE_PARTIAL : HK_WHERE_FULL);
 *   ANCHOR tcache.c: hk_heap_move(h, s, HK_WHERE_CUR);
 *   ANCHOR tcache.c: s->pinned = 1;
 * hk_thread_attach (thread.c) -> attach
 *   ANCHOR thread.c: free_heaps = h->next_free;
 *   ANCHOR thread.c: h->live = true;
 * heap_abandon, thread_exit (thread.c) -> thread_exit
 *   ANCHOR thread.c: hk_heap_each_slab(h, unpark);
 *   ANCHOR thread.c: h->exiting = true;
 *   ANCHOR thread.c: hk_heap_each_slab(h, hk_heap_abandon_slab);
 *   ANCHOR thread.c: h->live = false;
 * hk_heap_abandon_slab (heap.c) -> abandon_slab
 *   ANCHOR heap.c: hk_heap_move(h, s, HK_WHERE_ABANDONED);
 *   ANCHOR heap.c: hk_remote_splice(s, hk_remote_drain_park(s));
 *   ANCHOR heap.c: bool empty = s->used == 0;
 * hk_heap_adopt (heap.c) -> adopt_and_free
 *   ANCHOR heap.c: s->where == HK_WHERE_ABANDONED;
 *   ANCHOR heap.c: return hk_slab_owner(s) == h;
 *   ANCHOR heap.c: hk_heap_move(h, s, HK_WHERE_PARTIAL);
 * hk_heap_adopt_any (heap.c) -> in next_slab
 *   ANCHOR heap.c: if (!atomic_load_explicit(&abandoned_count[cls], memory_order_relaxed))
 * hk_thread_collect_orphans (thread.c) -> collect_orphans
 *   ANCHOR thread.c: if (o->live || !atomic_load_explicit(&o->delayed, memory_order_relaxed))
 *   ANCHOR thread.c: hk_free_block(h, hk_reg_slab(hk_registry_lookup(list)), list);
 * hk_trim (init.c): hk_thread_flush, flush_slab (thread.c), hk_heap_release_abandoned (heap.c) -> trim
 *   ANCHOR init.c: hk_thread_flush();
 *   ANCHOR init.c: hk_thread_collect_orphans(hk_tls_self);
 *   ANCHOR init.c: hk_heap_release_abandoned();
 * hk_pool_release (pool.c) -> RELEASE_BODY
 *   ANCHOR pool.c: hk_slab_set_owner(s, NULL, false);
 * hk_slab_init (slab.c) -> in next_slab
 *   ANCHOR slab.c: atomic_store_explicit(&s->xtf, HK_XTF_QUIET, memory_order_relaxed);
 *
 * MACROS (spin -D...; tools/check-model runs the combinations that matter):
 *   NB=n                 blocks in the slab (2 to 4; default 3)
 *   THIRD=FREER          the third thread frees instead of adopting
 *   OWNER_ALLOCS, OWNER_FREES, FREER_FREES, ADOPTER_ALLOCS, ADOPTER_FREES
 *                        the budgets of user-level operations
 *   SEED_BUG             hk_remote_splice does not subtract from used (the
 *                        accounting bug of the seed): must be caught
 *   NO_ACCOUNTING_CHECK  leave out P3, so that broken accounting shows
 *                        through its consequence (a slab never released)
 *   NO_THREAD_CACHE      opt.thread_cache = 0: current slabs are not pinned
 *   NO_TRIM              the adopter never calls hk_trim()
 *   NO_COLLECT_EVERY     no collect after a remote free
 *   ATTACH_CAN_FAIL      a heap-less thread's hk_thread_attach() may fail
 *   NO_FINAL_ALLOC       the finisher does not allocate before it exits, so
 *                        only a free into an abandoned slab may adopt it
 *
 * PROBLEMS FOUND with this model, both fixed in the C code (the macros
 * above recreate the conditions; check-model runs them):
 *  1. ATTACH_CAN_FAIL: hk_free_block, when the thread had no heap and
 *     hk_thread_attach() failed, called hk_remote_push() once and ignored
 *     its result. If the slab was parked and its owner had abandoned it,
 *     the push only switched the slab to QUIET and returned false: the
 *     block was lost and the slab never released. Now it pushes again
 *     while the push returns false.
 *  2. NO_FINAL_ALLOC: abandon_slab drained the slab before it cleared the
 *     owner, so a remote free that had read the old owner could push its
 *     block after the drain: the slab stayed abandoned, QUIET, with every
 *     block free, until some thread allocated from its class. Now it
 *     clears the owner first and then drains and parks the slab, under the
 *     abandoned lock, so that a later remote free takes the NOTIFY path,
 *     finds no owner and adopts.
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

/* The third thread's role: ADOPTER, or a second FREER. */
#ifndef THIRD
#define THIRD ADOPTER
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
bool s_ofull;			/* HK_OWNER_FULL in the owner word */
bool s_pinned;			/* used holds the current slab's own count */
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

/* Pick a live block into fr (the program passes it to free); the
 * finisher, alone by then, takes the first. */
inline pick_live() {
	if
	:: role == FINISHER ->
		fr = 1;
		do
		:: loc[fr] != L_USER -> fr++
		:: else -> break
		od
	:: role != FINISHER ->
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

/* P3: used == blocks live or in flight. */
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
	assert(ca_n + s_pinned == s_used);
	ca_i = 0;
	ca_n = 0
#else
	skip
#endif
}

/* --- remote.c: bodies of one step each --------------------------------- */

/* hk_remote_drain(S) -> lst: the relaxed NULL check and take(S,
 * HK_XTF_STATE)'s CAS loop, linearised at one point. */
inline DRAIN_BODY() {
	S_ACCESS;
	lst = PTR(xtf);
	if
	:: lst != 0 -> printf("T%d   drains S.xtf (state kept)\n", me)
	:: else -> skip
	fi;
	xtf = STATE(xtf);
	grab(lst, L_XTF)
}

/* hk_remote_drain_park(S) -> lst: take(S, HK_XTF_NOTIFY). */
inline DRAIN_PARK_BODY() {
	S_ACCESS;
	lst = PTR(xtf);
	printf("T%d   drains S.xtf and parks S (NOTIFY)\n", me);
	xtf = NOTIFY;
	grab(lst, L_XTF)
}

/* hk_remote_unpark(S) */
inline UNPARK_BODY() {
	S_ACCESS;
	printf("T%d   unparks S (QUIET)\n", me);
	xtf = PTR(xtf) << 1
}

/* hk_slab_unpin(S) */
inline UNPIN_BODY() {
	if
	:: s_pinned -> s_pinned = false; s_used--
	:: else -> skip
	fi
}

/* hk_remote_splice(S, lst) by hh (NOHEAP: under the abandoned lock). */
inline SPLICE_BODY(hh) {
	if
	:: lst != 0 ->
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
		printf("T%d   splices %d drained block(s) into S's free list: used=%d\n", me, sp_n, s_used);
		lst = 0;
		sp_n = 0;
		sp_t = 0
	:: else -> skip
	fi;
	check_accounting()
}

/* --- tcache.c, pool.c: bodies ------------------------------------------ */

/* hk_pool_release(S): P4. The caller checked its right to. */
inline RELEASE_BODY() {
	assert(s_used == 0);
	ca_i = 1;
	do
	:: ca_i <= NB -> assert(IS_FREE(ca_i)); ca_i++
	:: else -> break
	od;
	ca_i = 0;
	assert(s_where != W_ABANDONED);	/* not on the abandoned list */
	assert(!s_pinned);
	s_owner = NOHEAP;
	s_ofull = false;
	s_released = true;
	printf("T%d   releases S to the pool (unmapped)\n", me)
}

/* free_local(hh, S, pb) without its hk_slab_emptied call (emptied says
 * whether to make it). */
inline FREE_LOCAL_BODY(hh, pb) {
	OWNER_ONLY(hh);
	assert(loc[pb] == L_HAND + me);
	nxt[pb] = s_free;
	s_free = pb;
	loc[pb] = L_FREE;
	s_used--;
	printf("T%d   free_local(b%d): used=%d\n", me, pb, s_used);
	if
	:: s_where == W_FULL -> s_where = W_PARTIAL; s_ofull = false	/* hk_heap_move */
	:: else -> skip
	fi;
	check_accounting();
	emptied = (s_used == 0)
}

/* take_block's pop: the free list, else a never-used block -> tb_b. P2. */
inline POP_BODY() {
	assert(s_ofull == (s_where == W_FULL));	/* the owner word's tag */
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
	:: tb_b != 0 -> loc[tb_b] = L_USER; nxt[tb_b] = 0; s_used++;
		printf("T%d malloc() = b%d: used=%d\n", me, tb_b, s_used)
	:: else -> skip
	fi;
	check_accounting()
}

/* --- Steps ------------------------------------------------------------- */

/* hk_slab_emptied(hh, S), when emptied */
inline slab_emptied(hh) {
	emptied = false;
	d_step {
		OWNER_ONLY(hh);
		if
		:: s_where == W_CUR -> h_cur[hh] = C_EMPTY	/* only unpinned */
		:: else -> skip
		fi;
		s_where = W_NONE;
		RELEASE_BODY()
	}
}

/* hk_remote_push(S, pb) -> rp_ret */
inline remote_push(pb) {
	d_step {	/* the CAS loop on xtf */
		S_ACCESS;
		rp_old = STATE(xtf);
		if
		:: rp_old == NOTIFY -> xtf = xtf - NOTIFY;	/* QUIET, list kept */
			printf("T%d   remote free of b%d: S is parked: switches it to QUIET\n", me, pb)
		:: else ->
			printf("T%d   remote free of b%d: pushes it on S.xtf\n", me, pb);
			nxt[pb] = PTR(xtf);
			xtf = pb << 1;
			assert(loc[pb] == L_HAND + me);
			loc[pb] = L_XTF
		fi
	};
	if
	:: rp_old != NOTIFY -> rp_ret = true
	:: else ->
		/* pb is still counted in used: S cannot have gone back. */
		d_step {
			S_ACCESS;
			rp_o = s_owner;
			rp_ret = (rp_o != NOHEAP);
			printf("T%d   reads S.owner: heap %d\n", me, rp_o)
		};
		if
		:: rp_ret ->
			d_step {	/* the CAS loop onto h->delayed */
				nxt[pb] = h_delayed[rp_o];
				h_delayed[rp_o] = pb;
				assert(loc[pb] == L_HAND + me);
				loc[pb] = L_DELAYED + rp_o;
				printf("T%d   delivers b%d to heap %d's delayed list\n", me, pb, rp_o)
			}
		:: else -> skip
		fi
	fi;
	rp_old = 0;
	rp_o = 0
}

/* hk_heap_adopt(hh, S) -> ad_mine, then (if mine) free_local(hh, S, pb) */
inline adopt_and_free(hh, pb) {
	d_step {
		abandoned_lock == 0;
		S_ACCESS;
		ad_mine = (s_owner == NOHEAP && s_where == W_ABANDONED);
		if
		:: ad_mine -> ab_count--; s_where = W_NONE; s_owner = hh; s_ofull = false;	/* take_adopted */
			printf("T%d   adopts S for heap %d (hk_heap_adopt)\n", me, hh)
		:: else -> skip
		fi
	};
	if
	:: ad_mine ->
		d_step {
			OWNER_ONLY(hh);
			DRAIN_PARK_BODY();
			SPLICE_BODY(hh);
			s_where = W_PARTIAL;
			FREE_LOCAL_BODY(hh, pb)
		}
	:: else ->
		d_step {
			S_ACCESS;
			ad_mine = (s_owner == hh);
			if
			:: ad_mine -> FREE_LOCAL_BODY(hh, pb)
			:: else -> skip
			fi
		}
	fi;
	if
	:: emptied -> slab_emptied(hh)
	:: else -> skip
	fi
}

/* hk_free_block(hh, S, pb) called from a collect: hh is a real heap. (The
 * every-64th collect it may make is not modelled here.) */
inline free_block_inner(hh, pb) {
	do
	:: d_step {
		S_ACCESS;
		fi_o = s_owner;
		if
		:: fi_o == hh -> FREE_LOCAL_BODY(hh, pb)
		:: else -> skip
		fi
	   };
		if
		:: fi_o == hh ->
			fi_o = 0;
			if
			:: emptied -> slab_emptied(hh)
			:: else -> skip
			fi;
			break
		:: fi_o == NOHEAP ->
			adopt_and_free(hh, pb);
			if
			:: ad_mine -> ad_mine = false; break
			:: else -> skip
			fi
		:: else ->
			fi_o = 0;
			remote_push(pb);
			if
			:: rp_ret -> rp_ret = false; break
			:: else -> skip
			fi
		fi
	od;
	skip	/* a break must not land in a d_step */
}

/* hk_heap_collect(hh) */
inline heap_collect(hh) {
	d_step {	/* the relaxed check and the exchange */
		cl = h_delayed[hh];
		if
		:: cl != 0 -> printf("T%d   collects heap %d's delayed list\n", me, hh)
		:: else -> skip
		fi;
		h_delayed[hh] = 0;
		grab(cl, L_DELAYED + hh)
	};
	do
	:: cl == 0 -> break
	:: else ->
		d_step {
			cb = cl;
			cl = nxt[cb];
			S_ACCESS;
			cbo = s_owner;
			if
			:: cbo == hh ->
				/* free_delivered(hh, S, cb) */
				OWNER_ONLY(hh);
				assert(loc[cb] == L_HAND + me);
				nxt[cb] = s_free;
				s_free = cb;
				loc[cb] = L_FREE;
				s_used--;
				check_accounting();
				flag = (s_where != W_CUR && !h_exiting[hh]);
				if
				:: !flag ->
					if
					:: s_where == W_FULL -> s_where = W_PARTIAL; s_ofull = false
					:: else -> skip
					fi;
					emptied = (s_used == 0)
				:: else -> skip
				fi
			:: else -> skip
			fi
		};
		if
		:: cbo == hh ->
			if
			:: flag ->
				flag = false;
				d_step {
					OWNER_ONLY(hh);
					DRAIN_PARK_BODY();
					SPLICE_BODY(hh);
					if
					:: s_where == W_FULL -> s_where = W_PARTIAL; s_ofull = false
					:: else -> skip
					fi;
					emptied = (s_used == 0)
				}
			:: else -> skip
			fi;
			if
			:: emptied -> slab_emptied(hh)
			:: else -> skip
			fi
		:: else -> free_block_inner(hh, cb)
		fi;
		cb = 0;
		cbo = 0
	od;
	skip	/* a break must not land in a d_step */
}

/* hk_thread_collect_orphans(hh): the loop under the heaps lock is one
 * step. */
inline collect_orphans(hh) {
	d_step {
		heaps_lock == 0;
		co_i = 1;
		do
		:: co_i <= nheaps ->
			if
			:: !h_live[co_i] && h_delayed[co_i] != 0 ->
				printf("T%d   collect_orphans: takes exited heap %d's delayed list\n", me, co_i);
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
		:: else -> break
		od;
		co_i = 0;
		co_nx = 0
	};
	do
	:: co_list == 0 -> break
	:: else ->
		d_step { co_b = co_list; co_list = nxt[co_b] };
		free_block_inner(hh, co_b);
		co_b = 0
	od;
	skip	/* a break must not land in a d_step */
}

/* hk_thread_attach() -> h (hk_tls_heap) */
inline attach() {
	d_step {	/* under the heaps lock: take a heap, h->live = true */
		heaps_lock == 0;
		if
		:: nfree > 0 -> nfree--; at_h = freeh[nfree]; freeh[nfree] = 0
		:: else ->
			/* hk_meta_alloc, then onto all_heaps */
			nheaps++;
			assert(nheaps <= NHEAP);
			at_h = nheaps
		fi;
		h_live[at_h] = true
	};
	d_step {	/* hk_heap_reset, hk_tls_heap */
		h_cur[at_h] = C_EMPTY;
		h_exiting[at_h] = false;
		printf("T%d   attaches heap %d\n", me, at_h);
		h = at_h;
		at_h = 0
	};
	heap_collect(h)		/* blocks delivered after its previous thread left */
}

/* hk_free_block(h, S, pb) from free(): h is this thread's hk_tls_heap,
 * maybe hk_empty_heap. */
inline free_block_top(pb) {
	fb_h = h;
	do
	:: d_step {
		S_ACCESS;
		if
		:: fb_o == 255 -> fb_o = s_owner	/* not the first round */
		:: else -> skip				/* free_begin read it */
		fi;
		if
		:: fb_o == fb_h -> FREE_LOCAL_BODY(fb_h, pb)
		:: else -> skip
		fi
	   };
		if
		:: fb_o == fb_h ->
			fb_o = 0;
			if
			:: emptied -> slab_emptied(fb_h)
			:: else -> skip
			fi;
			fb_placed = true;
			break
		:: fb_o == NOHEAP ->
			if
			:: fb_h == EMPTYH ->
#ifdef ATTACH_CAN_FAIL
				if
				:: true -> flag = true
				:: true -> flag = false;	/* out of memory */
					printf("T%d   hk_thread_attach() fails: out of memory\n", me)
				fi;
				if
				:: flag -> flag = false; attach(); fb_h = h
				:: else -> fb_h = NOHEAP
				fi
#else
				attach();
				fb_h = h
#endif
			:: else -> skip
			fi;
			if
			:: fb_h != NOHEAP ->
				adopt_and_free(fb_h, pb);
				if
				:: ad_mine -> ad_mine = false; fb_placed = true; break
				:: else -> fb_o = 255
				fi
			:: else ->
				/* No heap: leave the block on the slab. False
				 * means S was parked and ownerless and is QUIET
				 * now: push again. */
				remote_push(pb);
				do
				:: rp_ret -> break
				:: else -> remote_push(pb)
				od;
				rp_ret = false;
				fb_placed = true;
				break
			fi
		:: else ->
			remote_push(pb);
			if
			:: rp_ret -> rp_ret = false; break
			:: else -> fb_o = 255
			fi
		fi
	od;
#ifndef NO_COLLECT_EVERY
	if
	:: !fb_placed && fb_h != EMPTYH ->
		/* ++remote_since_collect >= HK_COLLECT_EVERY: maybe */
		if
		:: true -> heap_collect(fb_h)
		:: true -> skip
		fi
	:: else -> skip
	fi;
#endif
	fb_placed = false;
	fb_o = 0;
	fb_h = 0
}

/* The program calls free(b) on a live block b, if cond and there is one.
 * An option's guard, so that checking and picking are one step; the step
 * also makes hk_free_fast's owner check and, if it applies, its push. */
inline free_begin() {
	pick_live();
	printf("T%d free(b%d)\n", me, fr);
	loc[fr] = L_HAND + me;
	S_ACCESS;
	fb_o = s_owner;	/* hk_free_fast's read; hk_free_block's first one too */
	if
	:: fb_o == h && !s_ofull ->	/* the owner word is h: not on the full list */
		fb_o = 0;
		OWNER_ONLY(h);
		assert(s_where != W_FULL);
		nxt[fr] = s_free;
		s_free = fr;
		loc[fr] = L_FREE;
		s_used--;
		printf("T%d   fast path: used=%d\n", me, s_used);
		check_accounting();
		emptied = (s_used == 0);
		fast = true
	:: else -> skip
	fi
}
#define FREE_SOME(cond) atomic { (cond) && ANY_LIVE -> free_begin() }

/* The rest of free(fr): hk_slab_emptied, or hk_free_slow -> hk_free_block */
inline do_free() {
	if
	:: fast ->
		fast = false;
		if
		:: emptied -> slab_emptied(h)
		:: else -> skip
		fi
	:: else -> free_block_top(fr)
	fi;
	fr = 0
}

/* next_slab(h, cls) -> ns (C_S or C_OTHER) */
inline next_slab() {
	if
	:: d_step { S_IN_PARTIAL(h) -> OWNER_ONLY(h); s_where = W_NONE; ns = C_S }
	:: else ->
		d_step {	/* hk_heap_adopt_any: the count, then under the lock */
			abandoned_lock == 0;
			got = (ab_count != 0 && !s_released && s_where == W_ABANDONED);
			if
			:: got -> ab_count--; s_where = W_NONE; s_owner = h; s_ofull = false;
				printf("T%d   adopts S for heap %d (hk_heap_adopt_any)\n", me, h)
			:: else -> skip
			fi
		};
		if
		:: got -> got = false; ns = C_S
		:: else ->
			atomic {	/* hk_pool_acquire(cls, false), hk_slab_init, the owner */
				if
				:: s_inpool ->
					s_inpool = false;
					s_free = 0;
					s_used = 0;
					s_bump = 1;
					s_where = W_NONE;
					xtf = QUIET;
					s_pinned = false;
					s_owner = h;
					s_ofull = false;
					printf("T%d   takes S from the pool\n", me);
					ns = C_S
				:: !s_inpool -> ns = C_OTHER	/* another mapped slab */
				:: !s_inpool -> ns = 0		/* none */
				fi
			};
			if
			:: ns == 0 ->
				collect_orphans(h);
				if
				:: d_step { S_IN_PARTIAL(h) -> OWNER_ONLY(h); s_where = W_NONE; ns = C_S }
				:: else -> ns = C_OTHER	/* hk_pool_acquire(cls, true) */
				fi
			:: else -> skip
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
		d_step {	/* take_block */
			OWNER_ONLY(h);
			if
			:: s_free == 0 -> DRAIN_BODY(); SPLICE_BODY(h)
			:: else -> skip
			fi;
			POP_BODY()
		};
		if
		:: tb_b != 0 -> tb_b = 0; break
		:: else ->
			d_step {	/* exhausted: park it until frees come back */
				OWNER_ONLY(h);
				printf("T%d   S is exhausted\n", me);
				h_cur[h] = C_EMPTY;
				UNPIN_BODY();
				DRAIN_PARK_BODY();
				SPLICE_BODY(h);
				flag = (s_used == 0);
				if
				:: !flag ->	/* hk_heap_move */
					s_where = (s_free != 0 -> W_PARTIAL : W_FULL);
					s_ofull = (s_where == W_FULL)
				:: else -> skip
				fi
			};
			if
			:: flag -> flag = false; d_step { OWNER_ONLY(h); s_where = W_NONE; RELEASE_BODY() }
			:: else -> skip
			fi
		fi
	   :: h_cur[h] == C_OTHER ->
		if
		:: true -> break			/* a block of that slab */
		:: true -> h_cur[h] = C_EMPTY	/* that slab is exhausted too */
		fi
	   :: else -> skip
	   fi;
	   next_slab();
	   if
	   :: ns == C_OTHER -> ns = 0; h_cur[h] = C_OTHER; break
	   :: ns == C_S ->
		ns = 0;
		d_step {	/* it stays parked if it was */
			OWNER_ONLY(h);
			DRAIN_BODY();
			SPLICE_BODY(h);
			s_where = W_CUR;
			h_cur[h] = C_S;
#ifndef NO_THREAD_CACHE
			s_pinned = true;	/* the current slab's own count */
			s_used++;
			check_accounting()
#endif
		}
	   fi
	od;
	skip	/* a break must not land in a d_step */
}

/* malloc(): hk_tcache_alloc, else hk_alloc_slow */
inline do_alloc() {
	if
	:: d_step {
		h != EMPTYH && h_cur[h] == C_S && s_free != 0 ->
		OWNER_ONLY(h);
		POP_BODY();
		tb_b = 0
	   }
	:: else -> alloc_slow()
	fi
}

/* --- thread.c ---------------------------------------------------------- */

/* abandon_slab(h, S): under the abandoned lock, give up ownership, then
 * drain and park S; release it after the lock if it is empty. */
inline abandon_slab() {
	d_step {
		abandoned_lock == 0;
		OWNER_ONLY(h);
		abandoned_lock = me;
		UNPIN_BODY();
		s_where = W_ABANDONED;	/* hk_heap_move: onto the list, counted */
		ab_count++;
		s_owner = NOHEAP;
		s_ofull = false
	};
	d_step {
		OWNER_ONLY(NOHEAP);
		DRAIN_PARK_BODY();
		SPLICE_BODY(NOHEAP);
		flag = (s_used == 0);
		if
		:: flag -> s_where = W_NONE; ab_count--
		:: else ->
			printf("T%d   abandons S (owner: none) with used=%d\n", me, s_used)
		fi;
		abandoned_lock = 0
	};
	if
	:: flag -> flag = false; d_step { assert(s_owner == NOHEAP); RELEASE_BODY() }
	:: else -> skip
	fi
}

/* thread_exit -> heap_abandon(h), then h onto free_heaps */
inline thread_exit() {
	if
	:: h == EMPTYH -> printf("T%d exits (no heap)\n", me)
	:: else ->
		printf("T%d exits: abandons heap %d\n", me, h);
		heap_collect(h);
		d_step {
			if
			:: S_IN_LISTS(h) -> UNPARK_BODY()	/* hk_heap_each_slab(h, unpark) */
			:: else -> skip
			fi;
			h_exiting[h] = true
		};
		heap_collect(h);
		if
		:: S_IN_LISTS(h) -> abandon_slab()	/* hk_heap_each_slab(h, hk_heap_abandon_slab) */
		:: else -> assert(s_released || s_owner != h)	/* no slab of h left off its lists */
		fi;
		d_step {	/* hk_heap_reset; under the heaps lock: live, free_heaps */
			heaps_lock == 0;
			h_cur[h] = C_EMPTY;
			h_exiting[h] = false;
			h_live[h] = false;
			freeh[nfree] = h;
			nfree++;
			h = EMPTYH
		}
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
/* hk_trim() by a thread with a heap: hk_thread_flush (flush_slab
 * on S if it is ours), hk_thread_collect_orphans,
 * release_empty_abandoned. */
inline trim() {
	printf("T%d trim\n", me);
	heap_collect(h);
	if
	:: d_step {
		S_IN_LISTS(h) ->
		OWNER_ONLY(h);
		if
		:: h_cur[h] == C_S -> h_cur[h] = C_EMPTY; UNPIN_BODY(); s_where = W_PARTIAL
		:: else -> skip
		fi;
		DRAIN_PARK_BODY();
		SPLICE_BODY(h);
		flag = (s_used == 0)
	   };
		if
		:: flag -> flag = false; d_step { OWNER_ONLY(h); s_where = W_NONE; RELEASE_BODY() }
		:: else -> skip
		fi
	:: else -> skip
	fi;
	collect_orphans(h);
	d_step {	/* release_empty_abandoned, under the abandoned lock */
		abandoned_lock == 0;
		if
		:: !s_released && s_where == W_ABANDONED ->
			abandoned_lock = me;
			OWNER_ONLY(NOHEAP);
			DRAIN_BODY();
			SPLICE_BODY(NOHEAP);
			flag = (s_used == 0);
			if
			:: flag -> ab_count--; s_where = W_NONE
			:: else -> skip
			fi;
			abandoned_lock = 0
		:: else -> skip
		fi
	};
	if
	:: flag ->
		flag = false;
		d_step { assert(s_owner == NOHEAP); RELEASE_BODY() }	/* outside the lock */
	:: else -> skip
	fi
}
#endif

/* --- Threads ----------------------------------------------------------- */

proctype thread(byte me; byte role)
{
	byte h = EMPTYH;	/* hk_tls_heap */
	byte fr, tb_b, ns, lst, rp_old, rp_o;
	byte fb_h, fb_o, fi_o, at_h, cl, cb, cbo;
	byte co_i, co_b, co_nx, co_list;
	bool rp_ret, ad_mine, got, emptied, flag, fast, fb_placed;
	byte nalloc, nfreed;
	byte fin;	/* the finisher's phase: 0 wait, 1 free all, 2 alloc, 3 free, exit */

	/* One loop for every role, so that each operation appears once. */
	do
	:: (role == OWNER && nalloc < OWNER_ALLOCS) ||
	   (role == ADOPTER && nalloc < ADOPTER_ALLOCS) ||
	   (role == FINISHER && fin == 2) ->
		do_alloc();
		nalloc++;
		if
		:: role == FINISHER -> fin = 3
		:: else -> skip
		fi
	:: FREE_SOME((role == OWNER && nfreed < OWNER_FREES) ||
		     (role == FREER && nfreed < FREER_FREES) ||
		     (role == ADOPTER && nfreed < ADOPTER_FREES) ||
		     (role == FINISHER && (fin == 1 || fin == 3)));
		do_free();
		nfreed++
#ifndef NO_TRIM
	:: role == ADOPTER && nfreed == ADOPTER_FREES && h != EMPTYH ->
		trim();
		nfreed++
#endif
	:: role == FINISHER && fin == 0 && ndone == 3 ->
		printf("T%d (finisher): the other threads have exited\n", me);
		fin = 1
	:: atomic { role == FINISHER && fin == 1 && !ANY_LIVE -> skip };
		/* Before mapping more, an allocation collects what was
		 * delivered to exited threads; then (unless NO_FINAL_ALLOC) an
		 * allocation of the class may adopt. */
		if
		:: h == EMPTYH -> attach()
		:: else -> skip
		fi;
		collect_orphans(h);
#ifdef NO_FINAL_ALLOC
		fin = 3
#else
		fin = 2
#endif
	:: atomic { role == FINISHER && fin == 3 && !ANY_LIVE -> skip }; break
	:: role != FINISHER -> break
	od;
	thread_exit();
	if
	:: role != FINISHER -> ndone++
	:: else ->
		/* P6 */
		d_step {
			assert(s_released || s_inpool);	/* S went back (or was never used) */
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
		run thread(3, THIRD);
		run thread(4, FINISHER)
	}
}
