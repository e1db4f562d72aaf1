/** A campaign's delivery funnel as text lines: status, status --watch and the demo print it. */
import type { CampaignCounts } from '../campaign/counts.js';
import { DELIVERED, READ } from '../tracking/delivery.js';
import { codeName } from '../xml/codes.js';

const pct = (n: number, of: number): string => (of === 0 ? '—' : `${((100 * n) / of).toFixed(1)}%`);

export function funnel(c: CampaignCounts): string[] {
  const d = c.delivery;
  const accepted = c.completed;
  const reasons = Object.entries(d.byStatus)
    .filter(([code]) => Number(code) !== DELIVERED && Number(code) !== READ)
    .map(([code, n]) => `${code} ${codeName('message', Number(code))} ${n}`);
  return [
    `  delivery   accepted ${accepted} → delivered ${d.delivered} (${pct(d.delivered, accepted)})` +
      ` → read ${d.read} (${pct(d.read, d.delivered)} of delivered)`,
    `             undelivered ${d.undelivered}${reasons.length > 0 ? `: ${reasons.join(', ')}` : ''}`,
    `             still tracking ${d.tracking}, unknown ${d.unknown}`,
    ...smsFunnel(c),
  ];
}

/** The SMS fallbacks' own funnel, when the campaign made any (src/fallback.ts). */
function smsFunnel(c: CampaignCounts): string[] {
  const s = c.sms;
  if (s.total === 0) return [];
  const reasons = Object.entries(s.byStatus)
    .filter(([code]) => Number(code) !== DELIVERED)
    .map(([code, n]) => `${code} ${codeName('message', Number(code))} ${n}`);
  const open = [
    s.waiting > 0 ? `waiting ${s.waiting}` : '',
    s.paused > 0 ? `paused ${s.paused}` : '',
    s.failed > 0 ? `failed ${s.failed}` : '',
    s.unsent > 0 ? `never sent ${s.unsent}` : '',
  ].filter((x) => x !== '');
  return [
    `  sms        fallbacks ${s.total} → sent ${s.sent} → delivered ${s.delivered} (${pct(s.delivered, s.sent)})` +
      (open.length > 0 ? `; ${open.join(', ')}` : ''),
    `             undelivered ${s.undelivered}${reasons.length > 0 ? `: ${reasons.join(', ')}` : ''}, still tracking ${s.tracking}, unknown ${s.unknown}`,
  ];
}
