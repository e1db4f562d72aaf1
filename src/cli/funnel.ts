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
  ];
}
