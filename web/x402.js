// A segment fetch that pays: x402 v2 with the `paratii-voucher` scheme (DESIGN: "Paying over HTTP from a
// web page"). Without payment the server answers 402 with PAYMENT-REQUIRED (base64 JSON); the wallet
// service signs a voucher for it and the fetch is retried with PAYMENT-SIGNATURE.

const SCHEME = 'paratii-voucher';

export class PaymentFailed extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function decode(header) { return JSON.parse(atob(header)); }
function encode(value) {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/// Fetches `url`; on 402 asks `pay(accepted)` for a voucher envelope and retries once with it.
/// Returns {bytes, paid, receipt}. A second 402 (the server disagrees) is a PaymentFailed with its reason.
export async function fetchPaid(url, pay) {
  const first = await fetch(url);
  if (first.status !== 402) {
    if (!first.ok) throw new PaymentFailed(`${url}: HTTP ${first.status}`, first.status);
    return { bytes: await first.arrayBuffer(), paid: false };
  }
  const required = decode(first.headers.get('PAYMENT-REQUIRED'));
  const accepted = (required.accepts || []).find((offer) => offer.scheme === SCHEME);
  if (!accepted) throw new PaymentFailed(`${url}: the server accepts no ${SCHEME} payment`, 402);
  const voucher = await pay(accepted);
  const second = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encode({ x402Version: 2, accepted, payload: voucher }) } });
  if (second.status === 402) {
    const again = second.headers.get('PAYMENT-REQUIRED');
    const reason = again ? decode(again).error : undefined;
    throw new PaymentFailed(`${url}: payment refused by the server${reason ? `: ${reason}` : ''}`, 402);
  }
  if (!second.ok) throw new PaymentFailed(`${url}: HTTP ${second.status}`, second.status);
  const receipt = second.headers.get('PAYMENT-RESPONSE');
  return { bytes: await second.arrayBuffer(), paid: true, receipt: receipt ? decode(receipt) : null };
}
