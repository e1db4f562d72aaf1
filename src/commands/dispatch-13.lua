--[[
  Moves messages from the campaigns' backlogs into packages, keeping about ARGV[2] messages in
  packages: few enough that a campaign of higher priority enqueued now goes out within about a
  second, enough that workers never starve. A package is up to ARGV[3] ids of one campaign; the
  caller adds one BullMQ job per package made (Queue.addBulk, job id = package id). No key of
  BullMQ's is touched here.

  Which campaign goes next:
    - paused campaigns, and campaigns before their start or outside their window, leave the ready
      set for the sleep set (KEYS[13], campaign -> when to look again: its start, its deadline;
      a paused one without a deadline sleeps until a resume wakes it): a call looks only at
      campaigns that may send, whatever the number that wait, and their backlogs are not touched;
    - an SMS fallback companion (`<c>~sms`) goes by its campaign's control, deadline and gate
      (includes/parentOf) and shares its rate bucket and fair-share tag, with its own backlog;
    - cancelled campaigns and campaigns past their deadline are swept at once (up to ARGV[4]
      messages a call, outside the target): their ids go into packages too, which the caller
      ends unsent at once, without a job (marked 'sweep' instead of job opts);
    - the highest priority with something to send goes first (high 0, normal 1, low 2);
    - within one priority, start-time fair queuing: each campaign has a virtual tag that grows by
      (messages packaged / weight); the lowest tag goes next, one package at a time. A campaign
      that was idle or is new starts at the priority's virtual time, so it neither owes nor is owed;
    - a campaign's own rate cap is a token bucket (1 s burst) consumed as it is packaged;
    - a backlog shorter than a package waits for more until ARGV[5] ms have passed since its
      campaign's last enqueue (its counts' `enqueuedAt`): a producer writing in chunks fills
      packages instead of sending each chunk's tail alone.

  KEYS[1] ready set (campaigns with a backlog)   KEYS[2] gate hash (c -> rank:weight:rate:from:until)
  KEYS[3] control hash    KEYS[4] deadlines hash   KEYS[5] fair hash (c -> tag; vt:<rank> -> time)
  KEYS[6] campaign-rate buckets (c -> tokens:ms)   KEYS[7] packages hash (p<n> -> c \t ids)
  KEYS[8] packages zset (p<n> -> made, ms)   KEYS[9] package counter   KEYS[10] messages in packages
  KEYS[11] job opts (c -> BullMQ opts JSON)  KEYS[12] purging hash (campaign -> since when)
  KEYS[13] sleep zset (campaign -> ms when it may send or must be swept; woken into KEYS[1])
  ARGV[1] queue key prefix (bull:<queue>:)  ARGV[2] target  ARGV[3] package size
  ARGV[4] sweep limit  ARGV[5] linger, ms

  Built keys (same queue, so the same hash slot under a {hash tag} prefix): the backlog list
  <prefix>vb:bl:<campaign>, counts <prefix>vb:c:<campaign>:counts, the campaign's package set
  <prefix>vb:c:<campaign>:pkgs.

  Returns { released, swept, n, n campaigns whose window closed (the caller computes the next
  one), then per package made: its id, campaign, and its job opts JSON or 'sweep' }.
]]
local rcall = redis.call
local base = ARGV[1]
local target = tonumber(ARGV[2])
local size = tonumber(ARGV[3])
local sweepLeft = tonumber(ARGV[4])
local linger = tonumber(ARGV[5])
--- @include "includes/nowMs"
--- @include "includes/gateOf"
--- @include "includes/parentOf"
local now = nowMs()
local made = {}

-- Up to n ids from the front of c's backlog into a new package. Returns how many moved.
local function package(c, n, ending)
  local ids = rcall('LPOP', base .. 'vb:bl:' .. c, n)
  if not ids then return 0 end
  local id = 'p' .. rcall('INCR', KEYS[9])
  rcall('HSET', KEYS[7], id, c .. '\t' .. table.concat(ids, ','))
  rcall('ZADD', KEYS[8], now, id)
  rcall('SADD', base .. 'vb:c:' .. c .. ':pkgs', id)
  rcall('INCRBY', KEYS[10], #ids)
  -- An SMS fallback's package has its campaign's attempts and backoff.
  made[#made + 1] = { id, c, ending or rcall('HGET', KEYS[11], parentOf(c)) or '{}' }
  return #ids
end

-- Campaign-rate buckets, one per governing campaign (its SMS fallbacks spend from it too),
-- read once a call and written back at its end.
local buckets = {}
local function bucketOf(g, rate)
  if not buckets[g] then
    local b = rcall('HGET', KEYS[6], g)
    local tokens, last = rate, now
    if b then
      local i = string.find(b, ':', 1, true)
      tokens, last = tonumber(string.sub(b, 1, i - 1)), tonumber(string.sub(b, i + 1))
    end
    buckets[g] = { tokens = math.min(rate, tokens + (now - last) * rate / 1000) }
  end
  return buckets[g]
end
-- Fair-share tags, one per governing campaign: a campaign and its SMS fallbacks are one share.
local fairs = {}
local function fairOf(g)
  fairs[g] = fairs[g] or { c = g, tag = tonumber(rcall('HGET', KEYS[5], g) or '0') }
  return fairs[g]
end
-- What a candidate may package now: its backlog, or what its bucket holds.
local function creditOf(x)
  return x.bucket and math.min(x.credit, math.floor(x.bucket.tokens)) or x.credit
end

local released, swept = 0, 0
local closed = {}
local need = target - tonumber(rcall('GET', KEYS[10]) or '0')
local cands = {}
-- Campaigns whose time came (their start, or a deadline to sweep them at) are ready again.
local woken = rcall('ZRANGEBYSCORE', KEYS[13], '-inf', now)
if #woken > 0 then
  for i = 1, #woken, 1000 do
    rcall('SADD', KEYS[1], unpack(woken, i, math.min(i + 999, #woken)))
  end
  rcall('ZREMRANGEBYSCORE', KEYS[13], '-inf', now)
end
-- A campaign that may not send leaves the ready set until `at` (or until woken by a resume or a
-- schedule change, the store's wake()).
local function sleep(c, at)
  rcall('SREM', KEYS[1], c)
  if at then rcall('ZADD', KEYS[13], at, c) end
end
for _, c in ipairs(rcall('SMEMBERS', KEYS[1])) do
  local len = rcall('LLEN', base .. 'vb:bl:' .. c)
  if len == 0 then
    rcall('SREM', KEYS[1], c)
  elseif rcall('HEXISTS', KEYS[12], c) == 1 then
    -- Being purged (purgeBegin-2.lua): its keys are going away; nothing of it is packaged.
  else
    local governs = parentOf(c)
    local control = rcall('HGET', KEYS[3], governs)
    local deadline = tonumber(rcall('HGET', KEYS[4], governs) or '')
    if control == 'cancelled' or (deadline and now >= deadline) then
      while sweepLeft > 0 and len > 0 do
        local moved = package(c, math.min(len, sweepLeft, size), 'sweep')
        if moved == 0 then break end
        sweepLeft, len, swept = sweepLeft - moved, len - moved, swept + moved
      end
    elseif control == 'paused' then
      sleep(c, deadline)
    else
      local rank, weight, rate, from, untl = gateOf(KEYS[2], governs)
      if untl and now >= untl then
        closed[#closed + 1] = governs
      elseif now < from then
        sleep(c, deadline and math.min(from, deadline) or from)
      else
        local x = { c = c, rank = rank, w = weight, left = len, credit = len, rate = rate,
          fair = fairOf(governs) }
        if rate > 0 then
          x.bucket = bucketOf(governs, rate)
          x.credit = math.min(len, math.floor(x.bucket.tokens))
        end
        if len < size and linger > 0 and x.credit >= len then
          local at = tonumber(rcall('HGET', base .. 'vb:c:' .. c .. ':counts', 'enqueuedAt') or '0')
          if now - at < linger then x.left = 0 end
        end
        cands[#cands + 1] = x
      end
    end
  end
end
local vts = {}
local function vtOf(rank)
  if vts[rank] == nil then vts[rank] = tonumber(rcall('HGET', KEYS[5], 'vt:' .. rank) or '0') end
  return vts[rank]
end
local served = {}
while need > 0 do
  local best, bestTag
  for _, x in ipairs(cands) do
    if x.left > 0 and creditOf(x) > 0 then
      local tag = math.max(x.fair.tag, vtOf(x.rank))
      if not best or x.rank < best.rank or (x.rank == best.rank and tag < bestTag) then
        best, bestTag = x, tag
      end
    end
  end
  if not best then break end
  local moved = package(best.c, math.min(size, best.left, creditOf(best)))
  if moved == 0 then
    best.left = 0
  else
    best.left = best.left - moved
    best.credit = best.credit - moved
    if best.bucket then best.bucket.tokens = best.bucket.tokens - moved end
    need = need - moved
    released = released + moved
    vts[best.rank] = bestTag
    best.fair.tag = bestTag + moved / best.w
    served[best.fair.c] = best.fair
  end
end
for c, f in pairs(served) do
  rcall('HSET', KEYS[5], c, f.tag)
end
for rank, vt in pairs(vts) do rcall('HSET', KEYS[5], 'vt:' .. rank, vt) end
for g, b in pairs(buckets) do
  rcall('HSET', KEYS[6], g, math.max(0, b.tokens) .. ':' .. now)
end
local out = { released, swept, #closed }
for _, c in ipairs(closed) do out[#out + 1] = c end
for _, p in ipairs(made) do
  out[#out + 1] = p[1]
  out[#out + 1] = p[2]
  out[#out + 1] = p[3]
end
return out
