//! The secure channel of a connection: what carries the frames once the
//! handshake has agreed on keys.
//!
//! The frame layer writes a stream of length-prefixed frames; this layer
//! cuts that stream into *records* and seals each with the connection's
//! Noise transport keys (AES-256-GCM, one key per direction, the
//! nonce a counter of the records sent that way, starting at 0 and never
//! written on the wire), exactly as a Noise transport message: the
//! counter big-endian after four zero bytes, no associated data. The
//! records are sealed and opened in place with ring (one copy, no zeroed
//! scratch space), not through the Noise library's transport state, which
//! a test checks them against:
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | length of what follows, big-endian (16 to [`MAX_RECORD`]) |
//! | n | the sealed bytes of the frame stream, then a 16-byte tag |
//!
//! A record holds up to [`MAX_PLAINTEXT`] bytes of the frame stream, cut
//! anywhere (frames keep their own length prefixes), so a writer seals a
//! whole batch of frames at once, one record per 64 KiB, and batching keeps
//! its worth. A record that does not open, because a bit was flipped, a
//! record was dropped, replayed, reordered or truncated, or it does not
//! come from the peer, is an error: the reader closes the connection, and
//! nothing in or after that record is decoded.
//!
//! The channel knows nothing of what frames mean, and its keys and
//! counters live and die with one connection: a frame kept in plaintext
//! above it can be sent again on a later connection, sealed under that
//! connection's keys.

use std::io;

use bytes::{Buf, BufMut, BytesMut};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use tokio_util::codec::Decoder;

/// Bytes of a record's authentication tag.
pub(crate) const TAG: usize = 16;

/// The largest sealed record (a Noise transport message), tag included.
pub(crate) const MAX_RECORD: usize = 65_535;

/// The most bytes of the frame stream one record carries.
pub(crate) const MAX_PLAINTEXT: usize = MAX_RECORD - TAG;

/// Bytes a record adds to what it carries: its length prefix and its tag.
pub(crate) const OVERHEAD: usize = 4 + TAG;

/// Seals what this side sends on one connection.
pub(crate) struct Sealer {
    /// Boxed: the expanded key is over 500 bytes, and the write side that
    /// holds the sealer moves between the writer and direct senders.
    key: Box<LessSafeKey>,
    nonce: u64,
}

/// Opens what the peer sends on one connection.
pub(crate) struct Opener {
    key: Box<LessSafeKey>,
    nonce: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("nonce", &self.nonce).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener").field("nonce", &self.nonce).finish_non_exhaustive()
    }
}

/// The two halves of a connection's channel, from the keys a finished
/// handshake split: `send` seals what this side sends, `receive` opens
/// what the peer sends.
pub(crate) fn split(send: &[u8; 32], receive: &[u8; 32]) -> (Sealer, Opener) {
    let key = |bytes: &[u8; 32]| {
        Box::new(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key")))
    };
    (Sealer { key: key(send), nonce: 0 }, Opener { key: key(receive), nonce: 0 })
}

/// Record `n`'s nonce, as Noise lays it out for AES-GCM: four zero bytes,
/// then the counter, big-endian. Each key sees each counter once: the
/// counter only grows, and keys live and die with one connection.
fn nonce(n: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&n.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// Why a record did not open.
fn refused(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl Sealer {
    /// Seals one record of at most [`MAX_PLAINTEXT`] bytes into `out`
    /// (appended, without a length prefix), taking the next nonce.
    fn seal_into(&mut self, plaintext: &[u8], out: &mut BytesMut) {
        debug_assert!(plaintext.len() <= MAX_PLAINTEXT);
        let start = out.len();
        out.extend_from_slice(plaintext);
        // Cannot fail: ring refuses only inputs past AES-GCM's limit of
        // 64 GiB, and a record is at most 64 KiB.
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(self.nonce), Aad::empty(), &mut out[start..])
            .expect("a record within the size limit always seals");
        out.extend_from_slice(tag.as_ref());
        self.nonce += 1;
    }

    /// Appends `plaintext`, a piece of the frame stream, to `out` as
    /// length-prefixed records: one per [`MAX_PLAINTEXT`] bytes, none for
    /// an empty piece.
    pub(crate) fn seal(&mut self, plaintext: &[u8], out: &mut BytesMut) {
        out.reserve(sealed_len(plaintext.len()));
        for piece in plaintext.chunks(MAX_PLAINTEXT) {
            out.put_u32((piece.len() + TAG) as u32);
            self.seal_into(piece, out);
        }
    }

    /// One record without its length prefix: for a caller that frames it
    /// itself (the handshake's last messages).
    pub(crate) fn seal_message(&mut self, plaintext: &[u8]) -> BytesMut {
        let mut out = BytesMut::with_capacity(plaintext.len() + TAG);
        self.seal_into(plaintext, &mut out);
        out
    }
}

/// The bytes `plaintext` bytes take once sealed with [`Sealer::seal`].
pub(crate) fn sealed_len(plaintext: usize) -> usize {
    plaintext + plaintext.div_ceil(MAX_PLAINTEXT) * OVERHEAD
}

impl Opener {
    /// Opens one record (without its length prefix) and appends what it
    /// carries to `out`.
    ///
    /// # Errors
    ///
    /// If the record does not authenticate under this connection's key
    /// and the next nonce: tampered, out of order, replayed, or not from
    /// the peer. Nothing is appended then.
    pub(crate) fn open(&mut self, record: &[u8], out: &mut BytesMut) -> io::Result<()> {
        if record.len() < TAG || record.len() > MAX_RECORD {
            return Err(refused("a record of impossible length"));
        }
        let start = out.len();
        // Opened in place in the output: the record, tag included, is
        // copied there once.
        out.extend_from_slice(record);
        match self.open_in_place(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Opens one record (without its length prefix) where it lies: what it
    /// carries is then its first bytes, as many as returned.
    ///
    /// # Errors
    ///
    /// As [`open`](Opener::open); the record's bytes are garbage then.
    pub(crate) fn open_in_place(&mut self, record: &mut [u8]) -> io::Result<usize> {
        if record.len() < TAG || record.len() > MAX_RECORD {
            return Err(refused("a record of impossible length"));
        }
        match self.key.open_in_place(nonce(self.nonce), Aad::empty(), record) {
            Ok(plain) => {
                self.nonce += 1;
                Ok(plain.len())
            }
            Err(_) => Err(refused(
                "a record failed authentication: tampered with, dropped, replayed or reordered on the way, \
                 or not sealed by the peer",
            )),
        }
    }
}

impl Opener {
    /// An opener over the same keys, from the first record again: for the
    /// fuzzing entry points, which feed many streams to one pair of keys.
    pub(crate) fn again(&self) -> Opener {
        Opener { key: self.key.clone(), nonce: 0 }
    }
}

/// The reader's decoder: records from the socket, opened in order, then
/// frames (4-byte length, at most the node's frame limit, checked before
/// any allocation) from the opened stream.
///
/// A record is opened straight from the bytes read, which it leaves by
/// advancing past them: the read buffer is never split, so it keeps its
/// one allocation (see `peer/reader.rs`).
pub(crate) struct Records {
    opener: Opener,
    max_frame: usize,
    /// Opened bytes, from `at` on not yet taken as frames.
    opened: BytesMut,
    /// Where the next frame starts in `opened`: frames read in place are
    /// passed by moving it, and `opened` is advanced once per record.
    at: usize,
}

impl Records {
    pub(crate) fn new(opener: Opener, max_frame: usize) -> Self {
        Records { opener, max_frame, opened: BytesMut::new(), at: 0 }
    }

    /// The opener, for reuse elsewhere (the fuzzing entry points).
    pub(crate) fn into_opener(self) -> Opener {
        self.opener
    }

    /// The next frame of the opened stream, opening the records of `src`
    /// (sealed bytes as read) it needs, and taking them out of it; `None`
    /// until a whole frame is at hand.
    ///
    /// # Errors
    ///
    /// A record that does not open, or is of impossible length, or a frame
    /// over the limit: the connection is done for.
    pub(crate) fn next_frame(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        Ok(self.next_len(src)?.map(|len| self.take(len)))
    }

    /// As [`next_frame`](Records::next_frame), leaving the frame in place:
    /// its length, to read it with [`peek`](Records::peek), then pass it
    /// with [`skip`](Records::skip) or [`take`](Records::take).
    pub(crate) fn next_len(&mut self, src: &mut BytesMut) -> io::Result<Option<usize>> {
        loop {
            let rest = &self.opened[self.at..];
            if let Some(head) = rest.first_chunk::<4>() {
                let len = u32::from_be_bytes(*head) as usize;
                if len > self.max_frame {
                    return Err(refused("a frame over the size limit"));
                }
                if rest.len() >= 4 + len {
                    return Ok(Some(len));
                }
            }
            let Some(head) = src.first_chunk::<4>() else {
                self.release();
                return Ok(None);
            };
            let len = u32::from_be_bytes(*head) as usize;
            if !(TAG..=MAX_RECORD).contains(&len) {
                return Err(refused("a record of impossible length"));
            }
            if src.len() < 4 + len {
                self.release();
                return Ok(None);
            }
            if self.at == self.opened.len() {
                // Nothing is left of the records opened before: this one is
                // opened where it lies, and its frames read from there.
                let plain = self.opener.open_in_place(&mut src[4..4 + len])?;
                self.opened = src.split_to(4 + len);
                self.opened.truncate(4 + plain);
                self.at = 4;
            } else {
                self.opened.advance(std::mem::take(&mut self.at));
                self.opener.open(&src[4..4 + len], &mut self.opened)?;
                src.advance(4 + len);
            }
        }
    }

    /// Lets go of the opened bytes once every frame of them has been
    /// passed: a record opened in place shares the read buffer, which can
    /// then take its room back instead of growing.
    fn release(&mut self) {
        if self.at == self.opened.len() {
            self.opened = BytesMut::new();
            self.at = 0;
        }
    }

    /// The frame of `len` bytes at hand ([`next_len`](Records::next_len)).
    pub(crate) fn peek(&self, len: usize) -> &[u8] {
        &self.opened[self.at + 4..self.at + 4 + len]
    }

    /// Passes the frame of `len` bytes at hand, read in place.
    pub(crate) fn skip(&mut self, len: usize) {
        self.at += 4 + len;
    }

    /// Takes the frame of `len` bytes at hand out, as its own buffer.
    pub(crate) fn take(&mut self, len: usize) -> BytesMut {
        self.opened.advance(std::mem::take(&mut self.at) + 4);
        self.opened.split_to(len)
    }

    /// Whether the stream may end here (the peer closed the connection),
    /// with `src` what was read and not opened.
    ///
    /// # Errors
    ///
    /// If it ends inside a record or a frame.
    pub(crate) fn finish(&self, src: &[u8]) -> io::Result<()> {
        match (src.is_empty(), self.opened.len() == self.at) {
            (true, true) => Ok(()),
            (true, false) => Err(refused("the connection ended inside a frame")),
            (false, _) => Err(refused("the connection ended inside a record")),
        }
    }
}

impl Decoder for Records {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        self.next_frame(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        match self.next_frame(src)? {
            Some(frame) => Ok(Some(frame)),
            None => self.finish(src).map(|()| None),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A matched pair of channels, as two ends of one connection would
    /// hold after a handshake: `(dialer's, acceptor's)`.
    pub(crate) fn pair() -> ((Sealer, Opener), (Sealer, Opener)) {
        let (mut i, _) = noise_nn();
        let (to_responder, to_initiator) = i.dangerously_get_raw_split();
        (split(&to_responder, &to_initiator), split(&to_initiator, &to_responder))
    }

    /// The two ends of a finished Noise handshake (without a pre-shared
    /// key: the channel does not care where its keys came from).
    fn noise_nn() -> (snow::HandshakeState, snow::HandshakeState) {
        let params: snow::params::NoiseParams = "Noise_NN_25519_AESGCM_BLAKE2s".parse().unwrap();
        let mut i = snow::Builder::new(params.clone()).build_initiator().unwrap();
        let mut r = snow::Builder::new(params).build_responder().unwrap();
        let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
        let n = i.write_message(&[], &mut a).unwrap();
        r.read_message(&a[..n], &mut b).unwrap();
        let n = r.write_message(&[], &mut a).unwrap();
        i.read_message(&a[..n], &mut b).unwrap();
        (i, r)
    }

    /// The records are Noise transport messages to the byte: the Noise
    /// library's own transport state opens what a `Sealer` seals, and a
    /// `Opener` opens what it seals, record after record.
    #[test]
    fn records_are_the_noise_transport_messages_of_the_same_keys() {
        let (mut i, r) = noise_nn();
        let (to_responder, to_initiator) = i.dangerously_get_raw_split();
        let (mut sealer, mut opener) = split(&to_responder, &to_initiator);
        let noise = r.into_stateless_transport_mode().unwrap();
        let mut buf = vec![0u8; MAX_RECORD];
        for (n, size) in [0usize, 1, 15, 16, 17, 1000, MAX_PLAINTEXT].into_iter().enumerate() {
            let n = n as u64;
            let plaintext: Vec<u8> = (0..size).map(|k| (k * 7 + size) as u8).collect();
            // Ours sealed, Noise opens.
            let sealed = sealer.seal_message(&plaintext);
            assert_eq!(sealed.len(), size + TAG);
            let len = noise.read_message(n, &sealed, &mut buf).expect("Noise opens our record");
            assert_eq!(&buf[..len], &plaintext[..]);
            // Noise sealed, ours opens.
            let len = noise.write_message(n, &plaintext, &mut buf).unwrap();
            let mut opened = BytesMut::new();
            opener.open(&buf[..len], &mut opened).expect("we open Noise's record");
            assert_eq!(&opened[..], &plaintext[..]);
        }
    }

    fn frames(bytes: &[u8], opener: Opener) -> io::Result<Vec<Vec<u8>>> {
        let mut records = Records::new(opener, 1 << 20);
        let mut src = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(frame) = records.decode_eof(&mut src)? {
            out.push(frame.to_vec());
        }
        Ok(out)
    }

    fn framed(bodies: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for body in bodies {
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(body);
        }
        out
    }

    #[test]
    fn frames_cross_records_of_any_size_and_come_out_whole() {
        let ((mut seal, _), (_, open)) = pair();
        let big = vec![7u8; 3 * MAX_PLAINTEXT / 2];
        let plain = framed(&[b"one", &big, b"", b"three"]);
        let mut sealed = BytesMut::new();
        seal.seal(&plain[..10], &mut sealed);
        seal.seal(&plain[10..], &mut sealed);
        assert_eq!(frames(&sealed, open).unwrap(), vec![b"one".to_vec(), big, Vec::new(), b"three".to_vec()]);
    }

    /// The reader's way through a stream: a frame's length, then the frame
    /// read in place and passed, or taken out; the same frames as
    /// `next_frame`, from any split of the sealed bytes into reads.
    #[test]
    fn frames_read_in_place_or_taken_out_come_in_order() {
        let ((mut seal, _), (_, open)) = pair();
        let bodies: Vec<Vec<u8>> = (0..50u8).map(|n| vec![n; n as usize * 7]).collect();
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let plain = framed(&refs);
        let mut sealed = BytesMut::new();
        for piece in plain.chunks(333) {
            seal.seal(piece, &mut sealed);
        }
        let mut records = Records::new(open, 1 << 20);
        // Frames taken out are held to the end: records opened in place
        // later never write over them.
        let (mut src, mut got, mut taken) = (BytesMut::new(), Vec::new(), Vec::new());
        for read in sealed.chunks(101) {
            src.extend_from_slice(read);
            while let Some(len) = records.next_len(&mut src).unwrap() {
                if got.len() % 2 == 0 {
                    got.push(records.peek(len).to_vec());
                    records.skip(len);
                } else {
                    let frame = records.take(len);
                    got.push(frame.to_vec());
                    taken.push((got.len() - 1, frame));
                }
            }
        }
        assert!(records.finish(&src).is_ok(), "nothing left over");
        assert_eq!(got, bodies);
        for (i, frame) in taken {
            assert_eq!(&frame[..], &bodies[i][..], "frame {i}, held");
        }
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_once_its_length_is_read() {
        let ((mut seal, _), (_, open)) = pair();
        let mut sealed = BytesMut::new();
        // Only the length of a frame of 1,000 bytes, over a limit of 999.
        seal.seal(&1000u32.to_be_bytes(), &mut sealed);
        let mut records = Records::new(open, 999);
        assert!(records.next_len(&mut sealed).is_err());
    }

    #[test]
    fn sealed_sizes_match_what_seal_writes() {
        let ((mut seal, _), _) = pair();
        for len in [0, 1, MAX_PLAINTEXT - 1, MAX_PLAINTEXT, MAX_PLAINTEXT + 1, 3 * MAX_PLAINTEXT + 5] {
            let mut out = BytesMut::new();
            seal.seal(&vec![1u8; len], &mut out);
            assert_eq!(out.len(), sealed_len(len), "{len}");
        }
    }

    /// Every change an on-path attacker can make to the sealed stream is
    /// an error, never a different frame.
    #[test]
    fn a_flipped_dropped_replayed_reordered_or_truncated_record_is_an_error() {
        let records = |n: u8| {
            let ((mut seal, _), (_, open)) = pair();
            let mut list = Vec::new();
            for i in 0..n {
                let mut out = BytesMut::new();
                seal.seal(&framed(&[&[i; 8]]), &mut out);
                list.push(out.to_vec());
            }
            (list, open)
        };
        let (good, open) = records(3);
        assert_eq!(frames(&good.concat(), open).unwrap().len(), 3);

        let (mut list, open) = records(3);
        list[1][10] ^= 1;
        assert!(frames(&list.concat(), open).is_err(), "flipped");
        let (mut list, open) = records(3);
        list.remove(1);
        assert!(frames(&list.concat(), open).is_err(), "dropped");
        let (mut list, open) = records(3);
        list.insert(2, list[1].clone());
        assert!(frames(&list.concat(), open).is_err(), "replayed");
        let (mut list, open) = records(3);
        list.swap(1, 2);
        assert!(frames(&list.concat(), open).is_err(), "reordered");
        let (list, open) = records(3);
        let all = list.concat();
        assert!(frames(&all[..all.len() - 3], open).is_err(), "truncated");
        // A record of another connection (other keys), in place of ours.
        let (mut list, open) = records(3);
        let (other, _) = records(3);
        list[1] = other[1].clone();
        assert!(frames(&list.concat(), open).is_err(), "from another connection");
    }

    #[test]
    fn a_record_over_the_limit_is_refused_before_it_is_read() {
        let (_, (_, open)) = pair();
        let mut bytes = ((MAX_RECORD + 1) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        assert!(frames(&bytes, open).is_err());
    }
}
