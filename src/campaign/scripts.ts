/* Lua scripts of the campaign store, kept as strings so that tsc ships them in dist/. */

export const ENQUEUE_LUA = `
--[[
  Enqueues messages for a campaign in one step: dedupe by id, state, counts, and each message's
  job data kept in the queue's queued-message hash until the dispatcher releases it (only then
  does its BullMQ job exist: a queued message costs a hash field, not a job). The gateway wants
  ids unique per account, so an id is queued at most once per queue, whichever campaign has it:
  its queued data, its job key (job id m<id>) or its finished record is the proof.

  KEYS[1] state hash      id -> state (this campaign's)
  KEYS[2] counts hash     total, waiting, ... (this campaign's)
  KEYS[3] campaigns zset  campaign -> when first enqueued (µs, Redis's clock; see below)
  KEYS[4] backlog list    ids the dispatcher has not released yet (this campaign's)
  KEYS[5] ready set       campaigns with a backlog
  KEYS[6] queued hash     id -> job data JSON, until released
  KEYS[7] finished hash   id -> finished record (its job may be removed)
  ARGV[1] campaign
  ARGV[2] job key prefix  e.g. "bull:viber:m" (the id is appended)
  ARGV[3..] pairs: id, job data JSON

  Returns one number per id:
    0 new: queued now, state w, counted
    1 reclaimed: this campaign claimed it before but neither its data nor its job exists (an
      earlier version's producer stopped between its claim and its add): queued again, already
      counted
    2 duplicate: already queued (by this campaign or another)
    3 duplicate within this call
]]
local jobPrefix = ARGV[2]
local out = {}
local backlog = {}
local stored = {}
local seen = {}
local fresh = 0
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local r
  if seen[id] then
    r = 3
  elseif redis.call('HEXISTS', KEYS[6], id) == 1 or redis.call('EXISTS', jobPrefix .. id) == 1
    or redis.call('HEXISTS', KEYS[7], id) == 1 then
    r = 2
  elseif redis.call('HSETNX', KEYS[1], id, 'w') == 1 then
    fresh = fresh + 1
    r = 0
  elseif redis.call('HGET', KEYS[1], id) == 'w' then
    r = 1
  else
    r = 2
  end
  seen[id] = true
  out[#out + 1] = r
  if r < 2 then
    backlog[#backlog + 1] = id
    stored[#stored + 1] = id
    stored[#stored + 1] = ARGV[i + 1]
  end
end
-- In slices: Lua's unpack() fails past ~8,000 values, and a chunk may be 100,000 messages.
local function inSlices(cmd, key, list)
  for i = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
  end
end
if #backlog > 0 then
  inSlices('HSET', KEYS[6], stored)
  inSlices('RPUSH', KEYS[4], backlog)
  redis.call('SADD', KEYS[5], ARGV[1])
end
if fresh > 0 then
  redis.call('HINCRBY', KEYS[2], 'total', fresh)
  redis.call('HINCRBY', KEYS[2], 'waiting', fresh)
  redis.call('HDEL', KEYS[2], 'finishedAt')
end
-- Campaigns are listed oldest first: a new one is scored after every one listed, even when two
-- are first enqueued within the same clock tick (scores in ms before this version sort first).
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  local t = redis.call('TIME')
  local at = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
  if last then at = math.max(at, tonumber(last) + 1) end
  redis.call('ZADD', KEYS[3], at, ARGV[1])
end
return out
`;

/**
 * Count bookkeeping of a campaign's counts hash: bump() per message, flush() once at the end
 * (into KEYS[2], or the counts hash given: the dispatcher flushes campaign by campaign).
 */
export const BUMP = `
local names = { w = 'waiting', a = 'active', d = 'delayed', c = 'completed', f = 'failed',
  p = 'paused', x = 'cancelled', e = 'expired' }

-- Count changes are summed here and written once per field by flush(): a batch of 50 moving
-- from active to completed is 3 HINCRBYs, not 150.
local delta = {}
local function bump(st, by)
  local name = names[string.sub(st, 1, 1)]
  delta[name] = (delta[name] or 0) + by
  local code = string.sub(st, 3)
  if code ~= '' then
    local field = 'code:' .. code
    delta[field] = (delta[field] or 0) + by
  end
end
local function flush(countsKey)
  countsKey = countsKey or KEYS[2]
  for field, by in pairs(delta) do
    if by ~= 0 then redis.call('HINCRBY', countsKey, field, by) end
  end
  delta = {}
  -- When the campaign's last message left waiting/active/delayed/paused (purge --older-than and
  -- --keep-finished read it); cleared when one comes back (retry-failed, resume).
  local open = 0
  for _, v in ipairs(redis.call('HMGET', countsKey, 'waiting', 'active', 'delayed', 'paused')) do
    open = open + (tonumber(v) or 0)
  end
  if open == 0 then
    local t = redis.call('TIME')
    redis.call('HSETNX', countsKey, 'finishedAt', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  else
    redis.call('HDEL', countsKey, 'finishedAt')
  end
end
`;

export const TRANSITION_LUA = `
--[[
  Moves messages of one campaign to new states and keeps the campaign's counts in step, so that
  counts are read in O(1). Idempotent: a message already in the target state is left alone, so a
  batch re-run after a crash counts once.

  KEYS[1] state hash   id -> state (see state.ts for the encoding)
  KEYS[2] counts hash  waiting, active, delayed, completed, failed, paused, cancelled, code:<n>
  ARGV[1] 'only-from' prefix: letters of the states a message may leave ('' = any), e.g. 'wd'
  ARGV[2..] pairs: id, new state

  Returns the ids whose state changed.
]]
${BUMP}
local from = ARGV[1]
local changed = {}
for i = 2, #ARGV, 2 do
  local id, new = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], id)
  -- A message the producer never claimed is not ours to count; 'from' guards operator actions
  -- against a worker that moved the message meanwhile.
  if old and old ~= new and (from == '' or string.find(from, string.sub(old, 1, 1), 1, true)) then
    redis.call('HSET', KEYS[1], id, new)
    bump(old, -1)
    bump(new, 1)
    changed[#changed + 1] = id
  end
end
flush()
return changed
`;

/**
 * Why a campaign's messages may not go on the wire now, read from the campaign's control
 * (KEYS[3]), deadline (KEYS[4]) and gate (KEYS[5], c -> rank:weight:rate:from:until), by Redis's
 * clock: 'e' past its deadline, 'x' cancelled, 'p' paused, 's' before its start or outside its
 * window; nil when it may send.
 */
export const GATE_OF = `
-- A campaign's gate (gate hash value rank:weight:rate:from:until, written by the store from its
-- timing); a campaign without one: normal priority, weight 1, no rate cap, always open.
local function gateOf(gateHash, c)
  local g = redis.call('HGET', gateHash, c)
  if not g then return 1, 1, 0, 0, nil end
  local f = {}
  for v in string.gmatch(g, '[^:]+') do f[#f + 1] = tonumber(v) end
  return f[1], f[2], f[3], f[4], f[5]
end
`;

export const HELD_LETTER = `
${GATE_OF}
local function heldLetter(c, now)
  local control = redis.call('HGET', KEYS[3], c)
  local deadline = tonumber(redis.call('HGET', KEYS[4], c) or '')
  if deadline and now >= deadline then return 'e' end
  if control == 'cancelled' then return 'x' end
  if control == 'paused' then return 'p' end
  local _, _, _, from, untl = gateOf(KEYS[5], c)
  if now < from or (untl and now >= untl) then return 's' end
  return nil
end
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

export const ACTIVATE_LUA = `
--[[
  A worker is about to send these messages (its rate slot is granted): marks them active, unless
  their campaign may not send now (heldLetter: past its deadline, cancelled, paused, before its
  start, outside its window), or an operator's pause or cancel has already moved them (pause and
  cancel set the control, then move the messages). Control, timing and states are read in the same
  step, so a message is either sent or held back, never both.

  KEYS[1] state hash, KEYS[2] counts hash, KEYS[3] control hash, KEYS[4] deadlines hash,
  KEYS[5] gate hash
  ARGV[1] campaign
  ARGV[2..] ids

  Returns the ids held back, each followed by 'p' (park it), 'x' (cancel it), 'e' (expire it) or
  's' (back to the backlog: not its time).
]]
${BUMP}
${HELD_LETTER}
local held = {}
local letter = heldLetter(ARGV[1], nowMs())
if letter then
  for i = 2, #ARGV do
    held[#held + 1] = ARGV[i]
    held[#held + 1] = letter
  end
  return held
end
for i = 2, #ARGV do
  local id = ARGV[i]
  local old = redis.call('HGET', KEYS[1], id)
  local first = old and string.sub(old, 1, 1)
  if first == 'p' or first == 'x' then
    held[#held + 1] = id
    held[#held + 1] = first
  elseif old and old ~= 'a' then
    redis.call('HSET', KEYS[1], id, 'a')
    bump(old, -1)
    bump('a', 1)
  end
end
flush()
return held
`;

export const HELD_LUA = `
--[[
  Read-only: which of these campaigns may not send now, and why (heldLetter). A worker asks before
  it waits for a rate slot, so that messages of a paused, cancelled, expired or not-yet-due
  campaign never take one; the activate step asks again once the slot is granted.

  KEYS[3] control hash, KEYS[4] deadlines hash, KEYS[5] gate hash (KEYS[1], KEYS[2] unused)
  ARGV campaigns
  Returns one letter per campaign ('' when it may send).
]]
${HELD_LETTER}
local now = nowMs()
local out = {}
for i = 1, #ARGV do out[i] = heldLetter(ARGV[i], now) or '' end
return out
`;

export const PARK_LUA = `
--[[
  A worker parks messages of a paused campaign: their state becomes p, but only while the campaign
  is still paused, checked in the same step — a resume (control cleared, then p -> w) either sees
  them parked and takes them back, or they are not parked at all.

  Parked ids go back to the front of the campaign's backlog, where the dispatcher leaves them
  until a resume (before the worker moves their jobs to the delayed set: see BACKLOG_LUA).

  KEYS[1] state hash, KEYS[2] counts hash (as above), KEYS[3] control hash,
  KEYS[4] backlog list, KEYS[5] ready set
  ARGV[1] campaign
  ARGV[2..] ids

  Returns the campaign's control now ('' when none); the states changed only if it is 'paused'.
]]
${BUMP}
local control = redis.call('HGET', KEYS[3], ARGV[1]) or ''
if control ~= 'paused' then
  return control
end
for i = 2, #ARGV do
  local id = ARGV[i]
  local old = redis.call('HGET', KEYS[1], id)
  if old and old ~= 'p' and string.sub(old, 1, 1) ~= 'x' then
    redis.call('HSET', KEYS[1], id, 'p')
    bump(old, -1)
    bump('p', 1)
  end
end
for i = #ARGV, 2, -1 do redis.call('LPUSH', KEYS[4], ARGV[i]) end
redis.call('SADD', KEYS[5], ARGV[1])
flush()
return control
`;

export const REQUEUE_LUA = `
--[[
  Queues failed messages again from their finished records (retry-failed): each goes back to its
  campaign's backlog as queued data, its record's end dropped, its state w — so the dispatcher
  releases it as a new job with fresh attempts, in its campaign's turn. Only messages still failed
  move (a worker or another operator may have moved one meanwhile). The caller removes any BullMQ
  job they still have first.

  KEYS[1] state hash, KEYS[2] counts hash, KEYS[3] finished records hash, KEYS[4] queued hash,
  KEYS[5] backlog list, KEYS[6] ready set
  ARGV[1] campaign, ARGV[2..] ids
  Returns the ids queued again.
]]
${BUMP}
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local old = redis.call('HGET', KEYS[1], id)
  local rec = old and string.sub(old, 1, 1) == 'f' and redis.call('HGET', KEYS[3], id)
  local cut = rec and string.find(rec, ',"failed":', 1, true)
  if cut then
    redis.call('HSET', KEYS[4], id, string.sub(rec, 1, cut - 1) .. '}')
    redis.call('HDEL', KEYS[3], id)
    redis.call('HSET', KEYS[1], id, 'w')
    bump(old, -1)
    bump('w', 1)
    redis.call('RPUSH', KEYS[5], id)
    out[#out + 1] = id
  end
end
if #out > 0 then redis.call('SADD', KEYS[6], ARGV[1]) end
flush()
return out
`;
