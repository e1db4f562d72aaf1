--[[
  Releases messages from the campaigns' backlogs into BullMQ's wait list, keeping about ARGV[2]
  messages waiting or active: few enough that a campaign of higher priority enqueued now goes out
  within about a second, enough that workers never starve.

  Which campaign goes next:
    - paused campaigns, and campaigns before their start or outside their window, leave the ready
      set for the sleep set (KEYS[16], campaign -> when to look again: its start, its deadline;
      a paused one without a deadline sleeps until a resume wakes it): a call looks only at
      campaigns that may send, whatever the number that wait, and their backlogs are not touched;
    - cancelled campaigns and campaigns past their deadline are swept at once (up to ARGV[4] a
      call, outside the target): messages still queued end here, jobs held back in the delayed set
      go to the wait list for workers to end (without a rate slot);
    - the highest priority with something to send goes first (high 0, normal 1, low 2);
    - within one priority, start-time fair queuing: each campaign has a virtual tag that grows by
      (messages released / weight); the lowest tag goes next, ARGV[3] messages at a time. A campaign
      that was idle or is new starts at the priority's virtual time, so it neither owes nor is owed;
    - a campaign's own rate cap is a token bucket (1 s burst) consumed at release.

  KEYS[1] ready set (campaigns with a backlog)   KEYS[2] gate hash (c -> rank:weight:rate:from:until)
  KEYS[3] control hash    KEYS[4] deadlines hash   KEYS[5] fair hash (c -> tag; vt:<rank> -> time)
  KEYS[6] campaign-rate buckets (c -> tokens:ms)   KEYS[7] BullMQ wait   KEYS[8] BullMQ active
  KEYS[9] BullMQ delayed  KEYS[10] BullMQ marker   KEYS[11] BullMQ meta
  KEYS[12] queued hash (id -> job data, until it ends)  KEYS[13] job opts (c -> BullMQ opts JSON)
  KEYS[14] finished records (id -> record)  KEYS[15] purging hash (campaign -> since when)
  KEYS[16] sleep zset (campaign -> ms when it may send or must be swept; woken into KEYS[1])
  ARGV[1] queue key prefix (bull:<queue>:)  ARGV[2] target  ARGV[3] chunk  ARGV[4] sweep limit
  ARGV[5], ARGV[6] the reason of a cancelled message, before and after its campaign's name;
  ARGV[7], ARGV[8] the same for an expired one (state.ts unsentReason)
  ARGV[9] the BullMQ job name of a send job

  Built keys (same queue, so the same hash slot under a {hash tag} prefix): the backlog list
  <prefix>vb:bl:<campaign>, the state hash <prefix>vb:c:<campaign>:state, jobs <prefix>m<id>.

  Returns { released, swept, campaigns whose window closed (the caller computes the next one)... }.
]]
local rcall = redis.call
local base = ARGV[1]
local target = tonumber(ARGV[2])
local chunk = tonumber(ARGV[3])
local sweepLeft = tonumber(ARGV[4])
local unsent = { x = { ARGV[5], ARGV[6] }, e = { ARGV[7], ARGV[8] } }
local jobName = ARGV[9]
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
--- @include "includes/counts"
--- @include "includes/gateOf"

--[[
  Moves one campaign's backlog ids into BullMQ's wait list. An id without a job (its data in the
  queued hash, KEYS[12], from enqueue until it ends) becomes its BullMQ job here, stored as BullMQ's own addStandardJob stores
  one (bullmq 6.7.0, pinned exactly in package.json for this reason: the fields name, data, opts,
  timestamp, delay, priority; LPUSH to wait; the caller adds the wake-up marker once). The job's
  opts are its campaign's (KEYS[13], written by the producer). No 'added'/'waiting' events are
  emitted: nothing of ours listens, and a million of them would churn the capped stream.
  Ids of a cancelled or expired campaign (`ending`: its state letter) that are still queued end
  here, without a job: state and counts move (to expired; cancel has moved its own), and the
  message gets its record in `vb:done` (KEYS[14]) with the reason a worker would have given.
  An id whose job exists and sits in the delayed set (held back by a worker: not its time, or
  paused) is promoted as BullMQ's promote script does: ZREM from delayed, LPUSH to wait, delay
  field zeroed. Any other id is dropped, unless its job is being handed back by a worker right now
  (locked): that one goes to the back of the backlog and is looked at again later.
]]
local function release(c, n, ending)
  local bl = base .. 'vb:bl:' .. c
  local ids = rcall('LPOP', bl, n)
  if not ids then return 0, 0 end
  local moved = 0
  local opts
  local stateKey = base .. 'vb:c:' .. c .. ':state'
  for _, id in ipairs(ids) do
    local jobId = 'm' .. id
    local jobKey = base .. jobId
    local data = rcall('EXISTS', jobKey) == 0 and rcall('HGET', KEYS[12], id)
    if data and ending then
      -- Never sent, and never will be: it ends here with its record, as a worker would end its
      -- job (settle-6.lua's "failed" end), and no job is made.
      local why = unsent[ending]
      local failed = cjson.encode({ reason = why[1] .. c .. why[2], attempts = 0 })
      rcall('HDEL', KEYS[12], id)
      rcall('HSET', KEYS[14], id, string.sub(data, 1, -2) .. ',"failed":' .. failed .. '}')
      local old = rcall('HGET', stateKey, id)
      if old and old ~= ending and string.find('wdp', string.sub(old, 1, 1), 1, true) then
        rcall('HSET', stateKey, id, ending)
        bump(old, -1)
        bump(ending, 1)
      end
      moved = moved + 1
    elseif data then
      -- The data stays in the queued hash until the message ends: that, not the job, is what
      -- the settle step records and results read.
      opts = opts or rcall('HGET', KEYS[13], c) or '{}'
      rcall('HSET', jobKey, 'name', jobName, 'data', data, 'opts', opts, 'timestamp', now,
        'delay', 0, 'priority', 0)
      rcall('LPUSH', KEYS[7], jobId)
      moved = moved + 1
    elseif rcall('ZREM', KEYS[9], jobId) == 1 then
      rcall('LPUSH', KEYS[7], jobId)
      rcall('HSET', jobKey, 'delay', 0)
      moved = moved + 1
    elseif rcall('EXISTS', jobKey .. ':lock') == 1 then
      rcall('RPUSH', bl, id)
    end
  end
  if ending then flush(base .. 'vb:c:' .. c .. ':counts') end
  return #ids, moved
end
local out = { 0, 0 }
local need = target - rcall('LLEN', KEYS[7]) - rcall('LLEN', KEYS[8])
local cands = {}
-- Campaigns whose time came (their start, or a deadline to sweep them at) are ready again.
local woken = rcall('ZRANGEBYSCORE', KEYS[16], '-inf', now)
if #woken > 0 then
  for i = 1, #woken, 1000 do
    rcall('SADD', KEYS[1], unpack(woken, i, math.min(i + 999, #woken)))
  end
  rcall('ZREMRANGEBYSCORE', KEYS[16], '-inf', now)
end
-- A campaign that may not send leaves the ready set until `at` (or until woken by a resume or a
-- schedule change, the store's wake()).
local function sleep(c, at)
  rcall('SREM', KEYS[1], c)
  if at then rcall('ZADD', KEYS[16], at, c) end
end
for _, c in ipairs(rcall('SMEMBERS', KEYS[1])) do
  local len = rcall('LLEN', base .. 'vb:bl:' .. c)
  if len == 0 then
    rcall('SREM', KEYS[1], c)
  elseif rcall('HEXISTS', KEYS[15], c) == 1 then
    -- Being purged (purgeBegin-2.lua): its keys are going away; nothing of it is released or
    -- swept, or a swept message's record would outlive the purge.
  else
    local control = rcall('HGET', KEYS[3], c)
    local deadline = tonumber(rcall('HGET', KEYS[4], c) or '')
    if control == 'cancelled' or (deadline and now >= deadline) then
      if sweepLeft > 0 then
        -- The deadline first, as the workers' check has it.
        local ending = (deadline and now >= deadline) and 'e' or 'x'
        local popped, moved = release(c, math.min(len, sweepLeft), ending)
        sweepLeft = sweepLeft - popped
        out[2] = out[2] + moved
      end
    elseif control == 'paused' then
      sleep(c, deadline)
    else
      local rank, weight, rate, from, untl = gateOf(KEYS[2], c)
      if untl and now >= untl then
        out[#out + 1] = c
      elseif now < from then
        sleep(c, deadline and math.min(from, deadline) or from)
      else
        local x = { c = c, rank = rank, w = weight, left = len, credit = len, rate = rate,
          tag = tonumber(rcall('HGET', KEYS[5], c) or '0') }
        if rate > 0 then
          local b = rcall('HGET', KEYS[6], c)
          local tokens, last = rate, now
          if b then
            local i = string.find(b, ':', 1, true)
            tokens, last = tonumber(string.sub(b, 1, i - 1)), tonumber(string.sub(b, i + 1))
          end
          x.tokens = math.min(rate, tokens + (now - last) * rate / 1000)
          x.credit = math.min(len, math.floor(x.tokens))
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
    if x.left > 0 and x.credit > 0 then
      local tag = math.max(x.tag, vtOf(x.rank))
      if not best or x.rank < best.rank or (x.rank == best.rank and tag < bestTag) then
        best, bestTag = x, tag
      end
    end
  end
  if not best then break end
  local popped, moved = release(best.c, math.min(chunk, need, best.left, best.credit))
  if popped == 0 then
    best.left = 0
  else
    best.left = best.left - popped
    best.credit = best.credit - popped
    if best.tokens then best.tokens = best.tokens - popped end
    need = need - moved
    out[1] = out[1] + moved
    vts[best.rank] = bestTag
    best.tag = bestTag + popped / best.w
    served[best.c] = best
  end
end
for c, x in pairs(served) do
  rcall('HSET', KEYS[5], c, x.tag)
end
for rank, vt in pairs(vts) do rcall('HSET', KEYS[5], 'vt:' .. rank, vt) end
for _, x in ipairs(cands) do
  if x.tokens then rcall('HSET', KEYS[6], x.c, math.max(0, x.tokens) .. ':' .. now) end
end
if out[1] + out[2] > 0 then
  local meta = rcall('HMGET', KEYS[11], 'paused', 'concurrency')
  if not meta[1] then rcall('ZADD', KEYS[10], 0, '0') end
end
return out
