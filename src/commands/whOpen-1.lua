--[[
  Turns the webhook outbox on (a worker with a webhook URL, at start and now and then after):
  from now on every outcome change writes its event (includes/outbox.lua). Refused while the
  endpoint is marked gone (it answered 410): `viber-bulk webhooks --enable` clears that.

  KEYS[1] outbox config hash (vb:wh)
  ARGV[1] most events held (cap), ARGV[2] an epoch for event ids, kept if one is set: ids stay
          unique across a Redis that lost everything (a new epoch) and one that kept it (the
          same epoch, a growing sequence)
  Returns '' when on, or the `gone` field (when, and why) while the endpoint is gone.
]]
local gone = redis.call('HGET', KEYS[1], 'gone')
if gone then
  redis.call('HDEL', KEYS[1], 'cap')
  return gone
end
redis.call('HSET', KEYS[1], 'cap', ARGV[1])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
return ''
