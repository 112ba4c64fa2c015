//! Type-erased envelopes and the handler slot: the per-message hot path.
//!
//! An actor accepts many message types, so its mailbox must hold values of
//! one type that stand for any of them. Boxing each message as a trait object
//! costs an allocation on the sender and a free on the receiver, and boxing the
//! handler's future costs another pair: measured on 2026-11-24, the two
//! together cut tell throughput to about 0.6 of a raw channel (instruction
//! counts per operation are in `benches/README.md`, "op_count"). Instead:
//!
//! - an [`Envelope`] is a small fixed-size value: a pointer to a static table
//!   of functions monomorphised for the payload type, plus four words of
//!   inline storage. A payload that fits (most messages, and an ask of a
//!   message up to three words) is stored in place; a larger one is boxed.
//!   Four, not three: a message of 25 to 32 bytes (a `String` and a `u64`,
//!   or the 32-byte remote tell of the benches) is common, and its box and
//!   free cost more than the remote tell's decoding (about 190 instructions
//!   of its 3,250, 2026-12-05); moving the extra word costs a local tell of
//!   a `u64` about 9 of its 480, and idle actors stay at 792 B.
//! - the run loop owns one pinned [`Slot`] in which the handler's future is
//!   built in place and polled, so a handler that fits in `SLOT_BYTES` costs no
//!   allocation at all.
//!
//! Every `unsafe` block below states why it is sound; the tests at the end of
//! the file exercise each path (inline, boxed, dropped unhandled, over-aligned,
//! oversized futures, panics while polling).

use std::any::TypeId;
use std::cell::Cell as StdCell;
use std::future::Future;
use std::marker::{PhantomData, PhantomPinned};
use std::mem::{ManuallyDrop, MaybeUninit, align_of, size_of};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::base::flight::Recorder;
use crate::mailbox::queue::Queue;

/// Words of inline payload storage in an envelope.
const INLINE_WORDS: usize = 4;
type Inline = MaybeUninit<[usize; INLINE_WORDS]>;

/// Whether a payload of type `P` is stored inline rather than boxed.
const fn fits_inline<P>() -> bool {
    size_of::<P>() <= size_of::<Inline>() && align_of::<P>() <= align_of::<Inline>()
}

// A boxed payload is one thin pointer, which always fits.
const _: () = assert!(fits_inline::<Box<u8>>());

/// What an envelope is addressed to: an actor type, and the context its
/// handlers run with.
///
/// Implemented once, for every `A: Actor` with `Context<A>`, in
/// `actor/context.rs`. The envelope names the context only through this
/// trait, so that the envelope, and the mailbox and shared block that hold
/// envelopes, sit below the context (which holds the shared block) instead
/// of forming a loop with it.
pub(crate) trait Addressee: Sized + Send + 'static {
    /// What a handler gets besides the actor: `Context<Self>`.
    type Context;

    /// The context's flight recorder, if the actor keeps one.
    fn recorder(ctx: &mut Self::Context) -> Option<&mut Recorder>;
}

/// What an envelope carries: a message to tell, or a message and its reply
/// channel (`Tell` and `Ask`, in `actor/message.rs`).
pub(crate) trait Payload<A: Addressee>: Send + 'static {
    /// The type name of the message, for dead letters and panic reports.
    fn message_type() -> &'static str;

    /// The message's rendering for the flight recorder.
    fn describe(&self) -> Option<String>;

    /// Starts handling this payload: calls the handler and returns its future.
    fn into_future<'a>(self, actor: &'a mut A, ctx: &'a mut A::Context) -> impl Future<Output = ()> + Send + 'a;
}

/// A message of any type accepted by `A`, ready to be queued in its mailbox.
pub(crate) struct Envelope<A: Addressee> {
    vtable: &'static VTable<A>,
    data: Inline,
}

/// What [`Vt::start`] returns: the first poll's result, or `None` if an
/// abort was found waiting before it.
type Started = Option<Poll<()>>;

/// [`Vt::start`] for a payload type: the envelope's storage, the actor, its
/// context, the slot, the task's context and the mailbox (for an abort).
type StartFn<A> = unsafe fn(
    *mut Inline,
    *mut A,
    *mut <A as Addressee>::Context,
    &mut Slot,
    &mut TaskContext<'_>,
    &Queue<Envelope<A>>,
) -> Started;

struct VTable<A: Addressee> {
    start: StartFn<A>,
    drop: unsafe fn(*mut Inline),
    payload_type: fn() -> TypeId,
    message_type: fn() -> &'static str,
}

/// The function table for payload type `P`, one static per `(A, P)`.
struct Vt<A, P>(PhantomData<fn() -> (A, P)>);

impl<A: Addressee, P: Payload<A>> Vt<A, P> {
    const VTABLE: VTable<A> =
        VTable { start: Self::start, drop: Self::drop, payload_type: TypeId::of::<P>, message_type: P::message_type };

    /// # Safety
    ///
    /// `data` holds a `P` written by [`Envelope::new`] that has not been
    /// taken yet; it must not be read again after this call.
    unsafe fn start(
        data: *mut Inline,
        actor: *mut A,
        ctx: *mut A::Context,
        slot: &mut Slot,
        cx: &mut TaskContext<'_>,
        mailbox: &Queue<Envelope<A>>,
    ) -> Started {
        // SAFETY: guaranteed by the caller, see above.
        let payload = unsafe { take::<P>(data) };
        // SAFETY: `Envelope::start_in_place`'s contract makes `ctx` valid
        // and unaliased here; this borrow ends before the future takes it.
        if let Some(recorder) = A::recorder(unsafe { &mut *ctx }) {
            recorder.record(P::message_type(), payload.describe());
        }
        // SAFETY: `Envelope::start_in_place`'s contract makes `actor` and
        // `ctx` valid, unaliased and alive until the slot is cleared, and
        // keeps the slot in place until then, which is what `Slot::start`
        // requires.
        unsafe { slot.start(|| payload.into_future(&mut *actor, &mut *ctx), cx, || mailbox.take_abort()) }
    }

    /// # Safety
    ///
    /// As for [`Vt::start`].
    unsafe fn drop(data: *mut Inline) {
        // SAFETY: guaranteed by the caller.
        drop(unsafe { take::<P>(data) });
    }
}

/// Moves a `P` out of envelope storage.
///
/// # Safety
///
/// `data` holds a live `P` written by [`Envelope::new`], inline or boxed as
/// [`fits_inline`] decides; the caller must not read it again.
unsafe fn take<P>(data: *mut Inline) -> P {
    if fits_inline::<P>() {
        // SAFETY: `new` wrote a `P` at the start of the buffer, whose size and
        // alignment are enough for `P` (checked by `fits_inline`).
        unsafe { data.cast::<P>().read() }
    } else {
        // SAFETY: `new` wrote a `Box<P>` there instead (it always fits).
        *unsafe { data.cast::<Box<P>>().read() }
    }
}

// SAFETY: the only constructor, `Envelope::new`, stores a `P: Payload<A>`,
// and `Payload` requires `Send`; the vtable holds only function pointers.
unsafe impl<A: Addressee> Send for Envelope<A> {}

impl<A: Addressee> Envelope<A> {
    /// Wraps a payload, inline when it fits.
    pub(crate) fn new<P: Payload<A>>(payload: P) -> Self {
        let mut data = Inline::uninit();
        if fits_inline::<P>() {
            // SAFETY: the buffer is large and aligned enough for `P`.
            unsafe { data.as_mut_ptr().cast::<P>().write(payload) };
        } else {
            // SAFETY: the buffer is large and aligned enough for a `Box<P>`.
            unsafe { data.as_mut_ptr().cast::<Box<P>>().write(Box::new(payload)) };
        }
        Envelope { vtable: &Vt::<A, P>::VTABLE, data }
    }

    /// Whether a `P` is stored inline: making its envelope allocates
    /// nothing.
    pub(crate) const fn is_inline<P: Payload<A>>() -> bool {
        fits_inline::<P>()
    }

    /// The type name of the message inside.
    pub(crate) fn message_type(&self) -> &'static str {
        (self.vtable.message_type)()
    }

    /// The function that names the message type: copied before the envelope
    /// is consumed, called only if a panic needs reporting.
    pub(crate) fn message_type_fn(&self) -> fn() -> &'static str {
        self.vtable.message_type
    }

    /// Hands the payload back if it is a `P`; used when a send fails.
    pub(crate) fn into_payload<P: 'static>(self) -> Option<P> {
        if (self.vtable.payload_type)() != TypeId::of::<P>() {
            return None;
        }
        let mut this = ManuallyDrop::new(self);
        // SAFETY: the type check above proves the envelope holds a `P`, and
        // `ManuallyDrop` keeps `Drop` from reading it a second time.
        Some(unsafe { take::<P>(&mut this.data) })
    }

    /// Moves the payload into the handler and the handler's future into
    /// `slot`, then polls it once unless `mailbox` has an abort waiting
    /// (taken, and `None` returned, with the future left unpolled in the
    /// slot): [`Slot::start`].
    ///
    /// The envelope stays where it lies: the run loop's handler marker and
    /// `catch_unwind` take a closure holding a pointer to it, and move eight
    /// bytes instead of fifty. (Moved, the envelope was copied with wide
    /// loads of the narrower stores the run loop had just made, which
    /// stalled the copy: about 45% of the marker's time, 2026-12-05.)
    ///
    /// # Safety
    ///
    /// As for [`Slot::put`]: `actor` and `ctx` must stay valid, and must be
    /// used by nobody but the future in `slot`, and `slot` must not move,
    /// until the slot is cleared (its `poll` returns `Ready`, `clear` is
    /// called, or it is dropped). And `this` is used up: its payload is
    /// taken, so it must not be read, started or dropped again (being a
    /// `ManuallyDrop`, it is not dropped unless its owner does so on
    /// purpose).
    pub(crate) unsafe fn start_in_place(
        this: &mut ManuallyDrop<Self>,
        actor: &mut A,
        ctx: &mut A::Context,
        slot: &mut Slot,
        cx: &mut TaskContext<'_>,
        mailbox: &Queue<Self>,
    ) -> Started {
        // SAFETY: the payload was written by `new` and is taken exactly once
        // here (our caller never uses `this` again, and `ManuallyDrop`
        // disarms `Drop`); the rest is our caller's contract, passed on
        // unchanged.
        unsafe { (this.vtable.start)(&mut this.data, actor, ctx, slot, cx, mailbox) }
    }
}

impl<A: Addressee> Drop for Envelope<A> {
    fn drop(&mut self) {
        // SAFETY: an envelope that is dropped still holds its payload: every
        // path that takes it out goes through `ManuallyDrop`.
        unsafe { (self.vtable.drop)(&mut self.data) }
    }
}

/// Bytes of inline storage for a handler's future.
pub(crate) const SLOT_BYTES: usize = 128;

/// Aligned to 8, like the futures of handlers that hold references, numbers
/// and channels; a future that needs 16 (a `u128`, say) is boxed. At 16 the
/// slot would align the whole run-loop task to 16, which puts it 16 bytes
/// past tokio's 384-byte step for an idle actor (see `actor::run::size_budget`).
#[repr(C, align(8))]
struct SlotBuf(MaybeUninit<[u8; SLOT_BYTES]>);

type PollFn = unsafe fn(*mut u8, &mut TaskContext<'_>) -> Poll<()>;

/// The place where the current handler's future lives while it runs.
///
/// A future that fits in [`SLOT_BYTES`] with alignment of at most 8 is built
/// in place; a larger one is boxed and the box is kept here. The future is
/// pinned where it stands: `put`'s contract forbids moving the slot until it
/// is empty again, so the run loop may move an *empty* slot along with the
/// actor's other state (which `Pin` could not express).
///
/// The slot is `!Unpin`, like the futures it holds: a future built in place
/// may point into its own bytes, and a `&mut` to an `!Unpin` value does not
/// claim those bytes exclusively (the rule that every pinned, self-referential
/// future relies on, and that Miri checks). That is what lets the run loop
/// reach the slot through `&mut` on every poll while the future inside keeps
/// pointers into itself and into the actor's other fields.
// `repr(C)`: the buffer first, at the slot's own address, so that reaching
// the future adds no offset (Rust would put it after `drop` otherwise).
#[repr(C)]
pub(crate) struct Slot {
    buf: SlotBuf,
    poll: Option<PollFn>,
    drop: unsafe fn(*mut u8),
    // The slot may hold a future that is `Send` but not `Sync`.
    _not_sync: PhantomData<StdCell<()>>,
    _pinned: PhantomPinned,
}

/// Polls the `F` stored at `ptr`.
///
/// # Safety
///
/// `ptr` points to a live, pinned `F` that nothing else accesses.
unsafe fn poll_at<F: Future<Output = ()>>(ptr: *mut u8, cx: &mut TaskContext<'_>) -> Poll<()> {
    // SAFETY: by the caller's contract the future is live, exclusively ours,
    // and never moves again (it sits in a pinned slot or a pinned box).
    unsafe { Pin::new_unchecked(&mut *ptr.cast::<F>()) }.poll(cx)
}

/// Drops the `F` stored at `ptr`.
///
/// # Safety
///
/// `ptr` points to a live `F` that is not used again.
unsafe fn drop_at<F>(ptr: *mut u8) {
    // SAFETY: guaranteed by the caller.
    unsafe { ptr.cast::<F>().drop_in_place() }
}

/// Nothing to drop: the slot is empty.
unsafe fn drop_nothing(_: *mut u8) {}

impl Slot {
    pub(crate) fn new() -> Self {
        Slot {
            buf: SlotBuf(MaybeUninit::uninit()),
            poll: None,
            drop: drop_nothing,
            _not_sync: PhantomData,
            _pinned: PhantomPinned,
        }
    }

    /// Where the future lives. A raw pointer taken without a reference in
    /// between: a `&mut` to the buffer (`MaybeUninit::as_mut_ptr` takes one)
    /// would claim all 128 bytes exclusively and so invalidate the pointers
    /// the future keeps into itself across polls.
    fn buf_ptr(&mut self) -> *mut u8 {
        (&raw mut self.buf).cast::<u8>()
    }

    /// Whether a future is stored.
    pub(crate) fn is_empty(&self) -> bool {
        self.poll.is_none()
    }

    /// Stores `fut`, dropping any future already there.
    ///
    /// # Safety
    ///
    /// Until the slot is cleared (`poll` returns `Ready`, `clear` is called,
    /// or the slot is dropped): everything `fut` borrows must stay valid and
    /// must not be used except through `fut`, and the slot itself must not
    /// move, since the future is polled where it stands.
    pub(crate) unsafe fn put<F: Future<Output = ()> + Send>(&mut self, fut: F) {
        self.clear_in_place();
        // SAFETY: passed on from our caller; the slot is empty.
        unsafe { self.put_in_empty(fut) }
    }

    /// As [`put`](Slot::put), into a slot known to be empty.
    ///
    /// # Safety
    ///
    /// As for `put`, and the slot must be empty.
    #[inline]
    unsafe fn put_in_empty<F: Future<Output = ()> + Send>(&mut self, fut: F) {
        debug_assert!(self.is_empty());
        let this = self;
        let ptr = this.buf_ptr();
        if Self::fits::<F>() {
            // SAFETY: the buffer is large and aligned enough for `F`, and
            // empty (our caller's contract).
            unsafe { ptr.cast::<F>().write(fut) };
            this.poll = Some(poll_at::<F>);
            this.drop = drop_at::<F>;
        } else {
            let boxed: Pin<Box<F>> = Box::pin(fut);
            // SAFETY: a `Pin<Box<F>>` is one pointer, which the buffer holds.
            unsafe { ptr.cast::<Pin<Box<F>>>().write(boxed) };
            this.poll = Some(poll_at::<Pin<Box<F>>>);
            this.drop = drop_at::<Pin<Box<F>>>;
        }
    }

    /// Whether an `F` is stored in place rather than boxed.
    const fn fits<F>() -> bool {
        size_of::<F>() <= SLOT_BYTES && align_of::<F>() <= align_of::<SlotBuf>()
    }

    /// Stores the future `make` returns as [`put`](Slot::put) does, then
    /// polls it once unless `aborted()` says an abort waits (`None`: the
    /// future stays, unpolled, for the caller to clear).
    ///
    /// The run loop's path for every message: the first poll and, when it
    /// is ready, the drop call `F`'s own functions, not the pointers `put`
    /// stored (those serve a future that is pending or panics): the calls
    /// through pointers cost a message about 20 instructions (2026-12-05).
    ///
    /// # Safety
    ///
    /// As for [`put`](Slot::put).
    #[inline]
    pub(crate) unsafe fn start<F: Future<Output = ()> + Send>(
        &mut self,
        make: impl FnOnce() -> F,
        cx: &mut TaskContext<'_>,
        aborted: impl FnOnce() -> bool,
    ) -> Option<Poll<()>> {
        // The slot is emptied before the future is made: with the clear
        // (a call, when a future is left) between the two, the compiler
        // built the future on the stack first and copied it into the slot
        // after, and the copy's wide loads of the narrower stores just
        // made stalled (a ping-pong round trip took 17% longer on one
        // thread, 2026-12-05). Made after, it is written in place.
        self.clear_in_place();
        let fut = make();
        // SAFETY: the caller's contract is `put`'s, and the slot is empty.
        unsafe { self.put_in_empty(fut) };
        if aborted() {
            return None;
        }
        let ptr = self.buf_ptr();
        // SAFETY: `put` has just stored a live `F` at `ptr` (a
        // `Pin<Box<F>>` if it does not fit), which stays there, pinned,
        // under `put`'s contract; the pointers it stored name the same
        // functions as these calls.
        let ready = unsafe { if Self::fits::<F>() { poll_at::<F>(ptr, cx) } else { poll_at::<Pin<Box<F>>>(ptr, cx) } };
        if ready.is_ready() {
            // As `clear_in_place`: marked empty first, so that a panicking
            // destructor is not run twice.
            self.poll = None;
            self.drop = drop_nothing;
            // SAFETY: the future stored above, polled to its end, is
            // dropped once and never touched again (the slot is empty).
            unsafe { if Self::fits::<F>() { drop_at::<F>(ptr) } else { drop_at::<Pin<Box<F>>>(ptr) } }
        }
        Some(ready)
    }

    /// Polls the stored future; an empty slot is ready. The future is dropped
    /// as soon as it completes. If it panics, it stays until [`Slot::clear`].
    pub(crate) fn poll(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self;
        let Some(poll) = this.poll else {
            return Poll::Ready(());
        };
        // SAFETY: `poll` was stored by `put` together with a live future of
        // the type it expects, at this address, which has not moved since
        // (`put`'s contract).
        let ready = unsafe { poll(this.buf_ptr(), cx) };
        if ready.is_ready() {
            this.clear_in_place();
        }
        ready
    }

    /// Drops the stored future, if any.
    pub(crate) fn clear(&mut self) {
        self.clear_in_place();
    }

    /// Inlined: on the run loop's path the slot is empty when a message
    /// starts, and the check is one load, no call.
    #[inline]
    fn clear_in_place(&mut self) {
        if self.poll.is_some() {
            self.drop_occupant();
        }
    }

    #[inline(never)]
    fn drop_occupant(&mut self) {
        // Taken first: if the future's destructor panics, it is not run twice.
        if self.poll.take().is_some() {
            let drop = std::mem::replace(&mut self.drop, drop_nothing);
            // SAFETY: `drop` matches the live future that `put` stored here,
            // and `poll` is now `None`, so it is never touched again.
            unsafe { drop(self.buf_ptr()) };
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.clear_in_place();
    }
}

#[cfg(test)]
mod tests;
