--[[
  The webhook outbox (src/webhook): a script that changes a message's outcome writes its event in
  the same step, so a change is never without its event, nor an event without its change. Off
  (one HMGET a call, nothing written) until a worker with a webhook URL turns it on.

  outboxOf(cfg, new, now) -> writer:
    w.on                    the outbox is on
    w.message(kind, campaign, id, extra)
                            queues message.<kind>; extra is '' or more JSON members, each
                            starting with a comma (',"msgId":5')
    w.ended(state, campaign, id, members)
                            queues the event of a message that ended in that state (c accepted,
                            f failed, x cancelled, e expired, u suppressed): a failure's code from
                            the state, then the members its caller composed from its end (an
                            acceptance's msgId, a failure's reason: records.ts endEventMembers)
    w.finished(campaign, countsKey)
                            queues campaign.finished with the campaign's ended counts
  A message of an SMS fallback companion (`<c>~sms`, id 10^15 + the message's id) is told as its
  message's: campaign c, messageId the message's own, and the kinds message.sms_accepted,
  message.sms_delivered, or message.sms_failed with the SMS's end as `state` (failed,
  undelivered, unknown, cancelled, expired, suppressed); a companion's campaign.finished is not.
    w.close()               writes what was queued: one RPUSH per 1,000 events
  Keys: cfg hash vb:wh (cap: most events held, absent = off; epoch; seq; held; failed; dropped),
  new list vb:wh:new (event JSON, oldest first; senders take them a request at a time,
  whClaim-5.lua). An event's JSON is what the receiver gets, member for member: its id
  (`<epoch>.<seq>.<n>`) first, `at` (ISO 8601 UTC) last. Past `cap`
  events held (new, in a request, waiting for a retry or given up), new ones are dropped and
  counted in `dropped`.

  No JSON is read here: members come composed (JSON.stringify) from the TypeScript that made the
  change; what is written unquoted is digits, state codes and campaign names (letters, digits,
  '_', '.', '-').
]]
-- ms since the epoch as ISO 8601 UTC with ms, `2026-12-07T21:05:00.123Z` (Date#toISOString):
-- days to a civil date as in Howard Hinnant's civil_from_days.
local function isoOf(ms)
  ms = tonumber(ms)
  local secs = math.floor(ms / 1000)
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', year, month,
    doy - math.floor((153 * mp + 2) / 5) + 1, math.floor(rem / 3600),
    math.floor(rem % 3600 / 60), rem % 60, ms - secs * 1000)
end

local ENDED_AS = { c = 'accepted', f = 'failed', x = 'cancelled', e = 'expired', u = 'suppressed' }
-- An SMS fallback's kinds: its acceptance and delivery, and every other end as sms_failed.
local SMS_KIND = { accepted = 'sms_accepted', delivered = 'sms_delivered' }

local function outboxOf(cfg, new, now)
  local c = redis.call('HMGET', cfg, 'cap', 'epoch', 'held')
  local w = { on = c[1] ~= false }
  local at = w.on and ('"at":"' .. isoOf(now) .. '"}') or ''
  local bodies = {}

  function w.message(kind, campaign, id, extra)
    if not w.on then return end
    if string.sub(campaign, -4) == '~sms' then
      if kind == 'read' then return end -- an SMS is never read; none is reported
      campaign = string.sub(campaign, 1, -5)
      -- 10^15 + id, 16 digits: the message's id is what follows the leading 1, unpadded.
      id = string.match(string.sub(id, 2), '^0*(%d+)$')
      if SMS_KIND[kind] then
        kind = SMS_KIND[kind]
      else
        extra = ',"state":"' .. kind .. '"' .. extra
        kind = 'sms_failed'
      end
    end
    bodies[#bodies + 1] = '"type":"message.' .. kind .. '","campaign":"' .. campaign ..
      '","messageId":' .. id .. extra .. ',' .. at
  end

  -- The event of a message that ended in state st (state.ts letters).
  function w.ended(st, campaign, id, members)
    local kind = ENDED_AS[string.sub(st, 1, 1)]
    if not kind or not w.on then return end
    local code = kind == 'failed' and string.sub(st, 3) or ''
    w.message(kind, campaign, id, (code ~= '' and (',"code":' .. code) or '') .. members)
  end

  function w.finished(campaign, countsKey)
    if not w.on or string.sub(campaign, -4) == '~sms' then return end
    local names = { 'total', 'completed', 'failed', 'cancelled', 'expired', 'suppressed' }
    local v = redis.call('HMGET', countsKey, unpack(names))
    local parts = {}
    for i, name in ipairs(names) do parts[i] = '"' .. name .. '":' .. (tonumber(v[i]) or 0) end
    bodies[#bodies + 1] = '"type":"campaign.finished","campaign":"' .. campaign ..
      '","counts":{' .. table.concat(parts, ',') .. '},' .. at
  end

  function w.close()
    if #bodies == 0 then return end
    local room = math.max(0, tonumber(c[1]) - (tonumber(c[3]) or 0))
    local keep = math.min(#bodies, room)
    if keep < #bodies then redis.call('HINCRBY', cfg, 'dropped', #bodies - keep) end
    if keep > 0 then
      -- An epoch is set with the cap (whOpen-1.lua); one removed by hand must not fail the send.
      local prefix = '{"id":"' .. (c[2] or 'e') .. '.' .. redis.call('HINCRBY', cfg, 'seq', 1) .. '.'
      for from = 1, keep, 1000 do
        local list = {}
        for i = from, math.min(from + 999, keep) do
          list[#list + 1] = prefix .. i .. '",' .. bodies[i]
        end
        redis.call('RPUSH', new, unpack(list))
      end
      redis.call('HINCRBY', cfg, 'held', keep)
      c[3] = (tonumber(c[3]) or 0) + keep
    end
    bodies = {}
  end

  return w
end

