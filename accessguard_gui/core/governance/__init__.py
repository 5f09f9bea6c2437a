"""Governance an auditor asks for, one module per capability, all Qt-free.

    expiry      assignments expiring soon or already expired, paged; bulk extend/remove edits
    hygiene     role-model findings (empty roles, redundant assignments, ...) with fixes
    history     access at a past date and what changed between two dates, from the audit trail
    cut         the smallest sets of changes that would deny an allowed access
    reports     report content as plain data (user access, resource users, SoD, audit, hygiene,
                a campaign's evidence) and CSV
    campaigns   access review campaigns (tables in campaign_models, migration 0006)
    mining      the fewest roles reproducing every user's permissions (role mining)

Everything that writes returns ``core.changes`` edits: the window pushes them to its
pending store, so they show in Review changes and reach the file only with Save.
"""
