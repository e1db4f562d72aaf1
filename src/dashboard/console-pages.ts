/**
 * The console's two pages as HTML shells: the data comes from the JSON API (console-api.ts),
 * drawn by assets/console.js with DOM text nodes only, so nothing a campaign or a gateway wrote
 * is ever parsed as HTML. The shells carry what the script needs: which page, which campaign,
 * whether controls exist, and the CSRF token the controls send.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { CONSOLE_STATES } from './console-view.js';

const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));
const UPLOT = createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js');

/** Served with every console page: scripts, styles and requests from this origin only. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

export interface PageContext {
  queue: string;
  controls: boolean;
  token: string;
}

function shell(ctx: PageContext, page: 'list' | 'campaign', title: string, body: string): string {
  const meta = (name: string, value: string) =>
    `<meta name="${name}" content="${escapeHtml(value)}">`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · viber-bulk</title>
${meta('vb-page', page)}
${meta('vb-controls', ctx.controls ? 'on' : 'off')}
${meta('csrf-token', ctx.controls ? ctx.token : '')}
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/console.js" defer></script>
</head>
<body>
<header><nav aria-label="main"><a href="/">Campaigns</a> <a href="/queues">Queues</a></nav>
<span class="queue">queue ${escapeHtml(ctx.queue)}${ctx.controls ? '' : ' · read-only'}</span></header>
<main>
${body}
</main>
</body>
</html>
`;
}

function listPage(ctx: PageContext): string {
  const options = ['', ...CONSOLE_STATES]
    .map(
      (s) => `<option value="${escapeHtml(s)}">${s === '' ? 'any state' : escapeHtml(s)}</option>`,
    )
    .join('');
  return shell(
    ctx,
    'list',
    'Campaigns',
    `<h1>Campaigns</h1>
<form id="filter" role="search">
<label>Name <input id="f-name" name="name" type="search" autocomplete="off"></label>
<label>State <select id="f-state" name="state">${options}</select></label>
</form>
<p id="status" role="status" aria-live="polite"></p>
<div class="scroll"><table id="campaigns">
<thead><tr><th scope="col">Campaign</th><th scope="col">State</th><th scope="col">Progress</th>
<th scope="col">Failed</th><th scope="col">Delivered</th><th scope="col">Read</th>
<th scope="col">Priority</th><th scope="col">Rate</th><th scope="col">Started</th>
<th scope="col">Finished</th></tr></thead>
<tbody></tbody></table></div>
<nav id="pager" aria-label="pages"><button type="button" id="prev">Previous</button>
<span id="page-of"></span><button type="button" id="next">Next</button></nav>`,
  );
}

function campaignPage(ctx: PageContext, name: string): string {
  const controls = ctx.controls
    ? `<section aria-labelledby="h-controls"><h2 id="h-controls">Controls</h2>
<div class="controls"><button type="button" data-act="pause">Pause</button>
<button type="button" data-act="resume">Resume</button>
<button type="button" data-act="cancel">Cancel</button>
<label>Codes <input id="retry-codes" placeholder="all, or 203,206" autocomplete="off"></label>
<button type="button" data-act="retry-failed">Retry failed</button></div>
<p id="control-result" role="status" aria-live="polite"></p></section>`
    : '<p class="note">Read-only: controls need DASHBOARD_USER and DASHBOARD_PASSWORD.</p>';
  return shell(
    ctx,
    'campaign',
    name,
    `<h1 id="campaign" data-name="${escapeHtml(name)}">${escapeHtml(name)}</h1>
<p id="status" role="status" aria-live="polite"></p>
<div class="grid">
<section aria-labelledby="h-counts"><h2 id="h-counts">Counts</h2><dl id="counts"></dl></section>
<section aria-labelledby="h-funnel"><h2 id="h-funnel">Delivery</h2><ol id="funnel"></ol></section>
<section aria-labelledby="h-sms" id="sms-section" hidden><h2 id="h-sms">SMS fallback</h2><ol id="sms"></ol></section>
<section aria-labelledby="h-timing"><h2 id="h-timing">Timing</h2><dl id="timing"></dl></section>
<section aria-labelledby="h-failures"><h2 id="h-failures">Failures by code</h2>
<table id="failures"><thead><tr><th scope="col">Code</th><th scope="col">Name</th>
<th scope="col">Messages</th></tr></thead><tbody></tbody></table></section>
</div>
<section aria-labelledby="h-chart"><h2 id="h-chart">Accepted and delivered per minute</h2>
<div id="chart" role="img" aria-label="messages accepted and delivered per minute"></div></section>
${controls}
<section aria-labelledby="h-search"><h2 id="h-search">Find a message</h2>
<form id="search" role="search"><label>Message id <input id="message-id" inputmode="numeric"
autocomplete="off"></label> <button type="submit">Find</button></form>
<dl id="message"></dl></section>`,
  );
}

export function consolePages(ctx: PageContext): Router {
  const pages = express.Router();
  const html = (body: string) => (_req: express.Request, res: express.Response) => {
    res.set('Content-Security-Policy', CSP).type('html').send(body);
  };
  pages.get('/', html(listPage(ctx)));
  pages.get('/campaigns/:name', (req, res) => {
    res
      .set('Content-Security-Policy', CSP)
      .type('html')
      .send(campaignPage(ctx, String(req.params['name']).slice(0, 64)));
  });
  const asset = (file: string, type: string) => {
    const body = readFileSync(file);
    return (_req: express.Request, res: express.Response) => {
      res.type(type).set('Cache-Control', 'no-cache').send(body);
    };
  };
  pages.get('/assets/console.js', asset(`${ASSETS}console.js`, 'js'));
  pages.get('/assets/console.css', asset(`${ASSETS}console.css`, 'css'));
  pages.get('/assets/uPlot.iife.min.js', asset(UPLOT, 'js'));
  pages.get(
    '/assets/uPlot.min.css',
    asset(UPLOT.replace(/uPlot\.iife\.min\.js$/, 'uPlot.min.css'), 'css'),
  );
  return pages;
}
