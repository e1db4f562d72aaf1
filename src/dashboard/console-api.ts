/**
 * The campaign console's JSON API, which its pages and scripts share (same authentication):
 *
 *   GET  /api/campaigns?name=&state=&page=&per=   newest first, paged: { campaigns, total, page, per }
 *   GET  /api/campaigns/<name>                    its page: counts, funnel, failures, timing, timeline
 *   GET  /api/campaigns/<name>/messages/<id>      one message's record, the phone partly masked
 *   POST /api/campaigns/<name>/pause | resume | cancel | retry-failed ({ "codes": [203] })
 *
 * Reads cost Redis O(campaigns listed) — a state filter reads every campaign's counts, a name
 * filter only those whose name matches — and never O(messages). The controls call the library
 * functions the CLI calls (campaign/controls.ts), so counts stay in step. Which requests may reach
 * a control at all is guard.ts's business.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Queue } from 'bullmq';
import { InvalidOptionError } from '../errors.js';
import type { CampaignStore } from '../campaign/store.js';
import { assertCampaignName } from '../campaign/store.js';
import {
  cancelCampaign,
  pauseCampaign,
  resumeCampaign,
  retryFailedCampaign,
} from '../campaign/controls.js';
import type { Inspector } from '../inspect/inspector.js';
import { CONSOLE_STATES, messageOf, pageOf, summaryOf, type ConsoleState } from './console-view.js';

export interface ConsoleSource {
  store: CampaignStore;
  queue: Queue;
  inspector: Inspector;
}

const PER_PAGE = 25;

/** A query parameter as one string (express may hand an array or an object). */
const param = (v: unknown): string => (typeof v === 'string' ? v : '');

export function consoleApi(src: ConsoleSource): Router {
  const api = express.Router();
  api.use(express.json({ limit: '4kb' }));

  api.get('/campaigns', async (req, res) => {
    const name = param(req.query['name']).toLowerCase().slice(0, 200);
    const state = param(req.query['state']);
    if (state !== '' && !CONSOLE_STATES.includes(state as ConsoleState)) {
      fail(res, 400, `state must be one of: ${CONSOLE_STATES.join(', ')}`);
      return;
    }
    const per = clamp(Number(param(req.query['per']) || PER_PAGE), 1, 200);
    const page = clamp(Number(param(req.query['page']) || 1), 1, 1_000_000);
    let listed = (await src.store.campaignsByAge()).filter(
      (c) => name === '' || c.campaign.toLowerCase().includes(name),
    );
    const summarize = (c: { campaign: string; enqueuedAt: number }) =>
      src.store.counts(c.campaign).then((counts) => summaryOf(counts, c.enqueuedAt));
    if (state !== '') {
      const all = await Promise.all(listed.map(summarize));
      const kept = all.filter((s) => s.state === state);
      res.json({
        campaigns: kept.slice((page - 1) * per, page * per),
        total: kept.length,
        page,
        per,
      });
      return;
    }
    const total = listed.length;
    listed = listed.slice((page - 1) * per, page * per);
    res.json({ campaigns: await Promise.all(listed.map(summarize)), total, page, per });
  });

  api.get('/campaigns/:name', async (req, res) => {
    const name = campaignParam(req, res);
    if (name === undefined) return;
    const [counts, timeline, listed] = await Promise.all([
      src.store.counts(name),
      src.store.timeline(name),
      src.store.enqueuedAt(name),
    ]);
    if (counts.total === 0) {
      fail(res, 404, `campaign ${name} has no messages on this queue`);
      return;
    }
    res.json(pageOf(counts, listed, timeline));
  });

  api.get('/campaigns/:name/messages/:id', async (req, res) => {
    const name = campaignParam(req, res);
    if (name === undefined) return;
    const id = Number(req.params['id']);
    if (!/^\d{1,16}$/.test(String(req.params['id'])) || !Number.isSafeInteger(id) || id < 1) {
      fail(res, 400, 'a message id is a positive whole number');
      return;
    }
    const r = await src.inspector.message(name, id);
    if (!r) {
      fail(res, 404, `campaign ${name} has no message ${id}`);
      return;
    }
    res.json(messageOf(r));
  });

  const control =
    (act: (name: string, body: unknown) => Promise<Record<string, unknown>>) =>
    async (req: Request, res: Response) => {
      const name = campaignParam(req, res);
      if (name === undefined) return;
      try {
        res.json({ campaign: name, ...(await act(name, req.body)) });
      } catch (err) {
        if ((err as { code?: string }).code === 'INVALID_OPTION') {
          fail(res, 409, (err as Error).message);
          return;
        }
        throw err;
      }
    };
  api.post(
    '/campaigns/:name/pause',
    control(async (n) => ({ paused: await pauseCampaign(src.store, n) })),
  );
  api.post(
    '/campaigns/:name/resume',
    control(async (n) => ({ resumed: await resumeCampaign(src.store, n) })),
  );
  api.post(
    '/campaigns/:name/cancel',
    control(async (n) => ({ cancelled: await cancelCampaign(src.store, n) })),
  );
  api.post(
    '/campaigns/:name/retry-failed',
    control(async (n, body) => ({
      retried: await retryFailedCampaign(src.store, src.queue, n, codesOf(body)),
    })),
  );
  return api;
}

/** The campaign named in the path, or undefined after answering 400. */
function campaignParam(req: Request, res: Response): string | undefined {
  const name = String(req.params['name'] ?? '');
  try {
    assertCampaignName(name);
    return name;
  } catch (err) {
    fail(res, 400, (err as Error).message);
    return undefined;
  }
}

/** retry-failed's codes: absent for every failed message, else a list of gateway codes. */
function codesOf(body: unknown): number[] | undefined {
  const codes = (body as { codes?: unknown } | undefined)?.codes;
  if (codes === undefined || codes === null) return undefined;
  if (
    !Array.isArray(codes) ||
    codes.length > 100 ||
    !codes.every((c) => Number.isInteger(c) && c >= 0 && c < 100_000)
  ) {
    throw new InvalidOptionError('codes must be a list of gateway codes, e.g. [203, 206]');
  }
  return codes as number[];
}

function fail(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

const clamp = (n: number, lo: number, hi: number): number =>
  Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.floor(n))) : lo;
