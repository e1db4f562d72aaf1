-- The campaign whose control, deadline and gate govern c: for an SMS fallback companion
-- (`<campaign>~sms`, src/fallback.ts) its campaign's; c's own for any other.
local function parentOf(c)
  if string.sub(c, -4) == '~sms' then return string.sub(c, 1, -5) end
  return c
end
