// The page's client of the local wallet service (`paratii wallet serve`). The pairing token it keeps in
// localStorage is not a key: it only lets this origin ask the wallet, which checks the Origin header
// too (pages cannot forge it) and charges the site's own budget.

export class WalletError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class WalletService {
  constructor(baseURL) {
    this.baseURL = baseURL;
    this.storageKey = `paratii.wallet.token ${baseURL}`;
    this.token = localStorage.getItem(this.storageKey);
  }

  async call(method, path, body, extraHeaders = {}) {
    const headers = { ...extraHeaders };
    if (this.token && !headers.Authorization) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(this.baseURL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new WalletError(0, 'unreachable', `the wallet service at ${this.baseURL} cannot be reached (is \`paratii wallet serve\` running?)`);
    }
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw new WalletError(response.status, json.code || `http_${response.status}`, json.error || response.statusText);
    return json;
  }

  session() { return this.call('GET', '/v1/session'); }
  budget() { return this.call('GET', '/v1/budget'); }
  pay(payment) { return this.call('POST', '/v1/pay', payment); }
  vote(content, rate) { return this.call('POST', '/v1/vote', { content, rate }); }
  events(since, timeout) { return this.call('GET', `/v1/events?since=${since}&timeout=${timeout}`); }

  /// Asks to pair: shows `onCode(id, code)` and waits for the user's approval, then keeps the token.
  async pair(name, onCode) {
    const secretBytes = crypto.getRandomValues(new Uint8Array(32));
    const secret = hex(secretBytes);
    const hash = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret))));
    const created = await this.call('POST', '/v1/pairings', { name, secretHash: hash });
    onCode(created.id, created.code);
    for (;;) {
      await sleep(500);
      const polled = await this.call('GET', `/v1/pairings/${created.id}`, undefined, { Authorization: `Pairing ${secret}` });
      if (polled.token) {
        this.token = polled.token;
        localStorage.setItem(this.storageKey, polled.token);
        return;
      }
    }
  }

  forget() {
    this.token = null;
    localStorage.removeItem(this.storageKey);
  }
}

export function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''); }
export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
