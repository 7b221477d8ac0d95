"""Handler groups, in the order python-telegram-bot runs them (lowest first). Within a group only
the first matching handler runs; a handler raising ApplicationHandlerStop ends the update."""

PAYMENTS = -4  # pre-checkout and successful payments: answered and credited whoever pays
ADMIN_PROMPT = -3  # an admin's typed answer to a prompt (an amount, a panel order id…)
GATE = -2  # records users, keeps strangers and banned users out
TOPUP_STEP = -1  # a customer's typed answer in the top-up dialogue
# 0: commands, menus, the ordering conversation; the catch-alls are added last.
