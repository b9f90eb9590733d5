// The Paratii player page: pairs with the local wallet service, then plays the video through
// MediaSource, paying each segment the server asks for (402) with a voucher from the wallet service.
// States (body[data-state], also window.paratii.state): starting, forbidden (not paired), pairing,
// playing, locked, waiting-delegation (the wallet service asked the bridge; the user approves with the
// card), over-budget, no-delegation, finished, error. The tests read window.paratii.
import { WalletService, WalletError, sleep } from './wallet.js';
import { fetchPaid, PaymentFailed } from './x402.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// The wallet service listens on loopback only; a page never talks to anything else as its wallet.
const walletURL = loopbackOnly(params.get('wallet') || 'http://localhost:8548');
const manifestURL = params.get('manifest') || '/media/manifest.json';
const loadId = crypto.getRandomValues(new Uint32Array(1))[0].toString(16);

const state = (window.paratii = { state: 'starting', paid: 0, fetched: 0, pairing: null, lastVote: null, budget: null, message: '', vouchers: [] });
const wallet = new WalletService(walletURL);
let eventRevision = 0;
let locked = false;
// Counts the wallet service's delegation.* events: a payment waiting for the bridge retries when it moves.
let delegationEvents = 0;

function loopbackOnly(text) {
  const url = new URL(text);
  if (url.protocol !== 'http:' || !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    throw new Error(`the wallet service must be on loopback, not ${text}`);
  }
  return url.origin;
}

function show(next, message) {
  state.state = next;
  state.message = message;
  document.body.dataset.state = next;
  $('status').textContent = message;
}

function showBudget(budget) {
  state.budget = budget;
  const line = budget && budget[0];
  if (!line) return;
  $('spent').textContent = `${line.spentText} ${line.symbol}`;
  $('remaining').textContent = `${line.remainingText} ${line.symbol}`;
}

/// Session first: a 403 means this origin is not paired (or was revoked), which the page says before it asks to pair.
async function connect() {
  for (;;) {
    try {
      const session = await wallet.session();
      locked = session.locked;
      return;
    } catch (error) {
      if (!(error instanceof WalletError) || error.code !== 'not_paired') throw error;
      wallet.forget();
      show('forbidden', `not paired / forbidden (${error.status}): ${error.message}`);
      await wallet.pair(document.title, (id, code) => {
        state.pairing = { id, code };
        $('pairing').hidden = false;
        $('code').textContent = code;
        $('origin').textContent = location.origin;
        $('approve-command').textContent = `paratii wallet approve-site ${id} --code ${code} --budget 0.01ETH/day`;
        show('forbidden', `not paired / forbidden (${error.status}): waiting for approval of code ${code}`);
      });
      $('pairing').hidden = true;
      state.pairing = null;
    }
  }
}

/// Long-polls the wallet's events: lock and unlock, and this site's own payments (budget refresh).
async function watchEvents() {
  for (;;) {
    try {
      const answer = await wallet.events(eventRevision, 25);
      eventRevision = Number(answer.revision);
      locked = answer.locked;
      if (!locked && state.state === 'locked') show('playing', 'playing: unlocked, paying again');
      delegationEvents += answer.events.filter((e) => e.type.startsWith('delegation.')).length;
      if (!locked && answer.events.some((e) => e.type === 'unlocked' || e.type === 'paid' || e.type === 'delegation.approved')) {
        showBudget((await wallet.budget()).budget);
      }
    } catch (error) {
      await sleep(1000);
    }
  }
}

/// Until the wallet pays: waits out a lock (the page shows "locked" and goes on after `paratii wallet unlock`).
async function pay(accepted, key) {
  for (;;) {
    try {
      const answer = await wallet.pay({ payee: accepted.payTo, token: accepted.asset, amount: accepted.amount, memo: accepted.extra?.memo ?? '', key });
      showBudget(answer.budget);
      state.vouchers.push(answer.voucher);
      return answer.voucher;
    } catch (error) {
      if (!(error instanceof WalletError)) throw error;
      if (error.code === 'locked') {
        locked = true;
        show('locked', 'locked: the wallet service is locked; run `paratii wallet unlock` to go on');
        while (locked) await sleep(250);
        show('playing', 'playing: unlocked, paying again');
        continue;
      }
      if (error.code === 'awaiting_delegation') {
        // No hang on the wallet's side: it answered at once. Wait for its next delegation event (or 10 s), then ask again.
        const seen = delegationEvents;
        show('waiting-delegation', `waiting for approval on the bridge: ${error.message}`);
        for (let waited = 0; delegationEvents === seen && waited < 10000; waited += 250) await sleep(250);
        show('playing', 'playing: paying each segment with a voucher from your wallet');
        continue;
      }
      throw error;
    }
  }
}

function appendBuffer(buffer, bytes) {
  return new Promise((resolve, reject) => {
    buffer.addEventListener('updateend', resolve, { once: true });
    buffer.addEventListener('error', () => reject(new Error('the browser could not decode a segment')), { once: true });
    buffer.appendBuffer(bytes);
  });
}

async function play() {
  const manifest = await (await fetch(manifestURL)).json();
  const video = $('video');
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener('sourceopen', resolve, { once: true }));
  const buffer = source.addSourceBuffer(manifest.mimeType);
  await appendBuffer(buffer, (await fetchPaid(new URL(manifest.init, location.href).href, () => Promise.reject(new Error('init is free')))).bytes);
  show('playing', 'playing: paying each segment with a voucher from your wallet');
  video.play().catch(() => {});
  for (const [index, segment] of manifest.segments.entries()) {
    // Keep a few seconds ahead of the playhead, no more: a segment is paid when fetched, not when shown.
    while (buffer.buffered.length && buffer.buffered.end(0) - video.currentTime > 3) await sleep(200);
    const url = new URL(segment, location.href).href;
    let result;
    try {
      result = await fetchPaid(url, (accepted) => pay(accepted, `${url} ${loadId}`));
    } catch (error) {
      if (error instanceof WalletError && (error.code === 'over_budget' || error.code === 'refused')) {
        show('over-budget', `over budget: ${error.message} (segment ${index + 1} not paid, playback stops)`);
        return;
      }
      if (error instanceof WalletError && (error.code === 'delegation_denied' || error.code === 'bridge_unavailable')) {
        show('no-delegation', `no delegation: ${error.message} (segment ${index + 1} not paid, playback stops)`);
        return;
      }
      if (error instanceof WalletError && error.code === 'not_paired') {
        wallet.forget();
        show('forbidden', `not paired / forbidden (${error.status}): ${error.message}; reload to pair again`);
        return;
      }
      throw error;
    }
    state.fetched += 1;
    if (result.paid) state.paid += 1;
    $('paid').textContent = String(state.paid);
    await appendBuffer(buffer, result.bytes);
  }
  await new Promise((resolve) => (buffer.updating ? buffer.addEventListener('updateend', resolve, { once: true }) : resolve()));
  source.endOfStream();
  show('finished', `finished: ${state.paid} segments paid`);
}

async function rate(stars) {
  try {
    const answer = await wallet.vote(new URL(manifestURL, location.href).pathname, stars);
    state.lastVote = answer.vote;
    $('vote-status').textContent = `rated ${stars}★ (a signed Vote)`;
  } catch (error) {
    $('vote-status').textContent = `vote refused: ${error.message}`;
  }
}

async function main() {
  for (const button of document.querySelectorAll('#rating button')) button.addEventListener('click', () => rate(Number(button.dataset.stars)));
  await connect();
  showBudget((await wallet.budget().catch(() => ({ budget: null }))).budget);
  watchEvents();
  await play();
}

main().catch((error) => {
  const message = error instanceof WalletError && error.code === 'locked' ? 'locked: the wallet service is locked' : `error: ${error.message}`;
  show(error instanceof WalletError && error.code === 'locked' ? 'locked' : 'error', message);
  console.error(error);
});
