"""Who may open what: the expected answer for every console route and every API operation.

This table is written by hand on purpose. ``libcrm/staff/roles.py`` says which permissions each
role holds and the views say which permissions they need; this file says what the library
*intends*, and ``tests/test_access_matrix.py`` checks the three agree. A route that is not
listed here fails the suite, so nobody can add a page without deciding who may see it.
"""

from __future__ import annotations

ADMIN = "administrator"
RELATIONS = "user_relations"
DESK = "front_desk"
LIAISON = "subject_liaison"
ACQUISITIONS = "acquisitions"
ANALYST = "analyst"
ROLES = (ADMIN, RELATIONS, DESK, LIAISON, ACQUISITIONS, ANALYST)

EVERYONE = frozenset(ROLES)
PERSONAL = frozenset({ADMIN, RELATIONS, DESK, LIAISON, ACQUISITIONS})  # see personal data
EDITORS = frozenset({ADMIN, RELATIONS, DESK})  # register and change patrons
AGGREGATES = frozenset({ADMIN, RELATIONS, LIAISON, ACQUISITIONS, ANALYST})
EVENT_STORE = frozenset({ADMIN, RELATIONS, ANALYST})
IMPORTERS = frozenset({ADMIN, RELATIONS})
ADMINS = frozenset({ADMIN})
SUBJECT_REQUESTS = frozenset({ADMIN, RELATIONS})  # export or erase everything about a patron

PUBLIC = "public"  # no sign-in needed (sign-in pages, language switch)
PORTAL = "portal"  # the patron portal: patrons' own session, never a staff one
SKIP = "skip"  # not a page (API plumbing checked through the OpenAPI matrix)

# Console routes by URL name → the roles that may open them (everyone else gets 403, and a
# visitor who is not signed in is sent to the sign-in page).
CONSOLE: dict[str, frozenset[str] | str] = {
    "set_language": PUBLIC,
    "login": PUBLIC,
    "logout": PUBLIC,
    # sign-in security (libcrm/console/accounts.py): a signed-in session of any role
    "mfa-verify": EVERYONE,
    "mfa-enrol": EVERYONE,
    "mfa-recovery-codes": EVERYONE,
    "account-security": EVERYONE,
    "account-regenerate-codes": EVERYONE,
    "account-remove-second-factor": EVERYONE,
    "reauthenticate": EVERYONE,
    "api-index": SKIP,
    "api:openapi-json": PUBLIC,
    "api:openapi-view": PUBLIC,
    "api:api-root": SKIP,
    "api-tokens:list": ADMINS,
    "api-tokens:create": ADMINS,
    "api-tokens:revoke": ADMINS,
    "console:home": EVERYONE,
    "console:patron-list": PERSONAL,
    "console:patron-create": EDITORS,
    "console:patron-detail": PERSONAL,
    "console:patron-edit": EDITORS,
    "console:patron-identifier-add": EDITORS,
    "console:patron-timeline": PERSONAL,
    "console:patron-activity": PERSONAL,
    "console:patron-identifier-reveal": EDITORS,
    "console:patron-identifier-verify": EDITORS,
    "console:patron-identifier-remove": EDITORS,
    "console:patron-household-create": EDITORS,
    "console:patron-household-join": EDITORS,
    "console:patron-household-leave": EDITORS,
    "console:events-overview": EVENT_STORE,
    "console:events-runs": EVENT_STORE,
    "console:events-run": EVENT_STORE,
    "console:events-run-rejects": IMPORTERS,
    "console:events-upload": IMPORTERS,
    "console:events-upload-mapping": IMPORTERS,
    "console:events-upload-preview": IMPORTERS,
    "console:events-upload-import": IMPORTERS,
    "console:events-upload-cancel": IMPORTERS,
    # tags and segments (libcrm/segments/views.py): sizes are aggregates; defining is
    # segments.change_segment
    "segments:list": AGGREGATES,
    "segments:detail": AGGREGATES,
    "segments:create": frozenset({ADMIN, RELATIONS, ANALYST}),
    "segments:edit": frozenset({ADMIN, RELATIONS, ANALYST}),
    "segments:count": frozenset({ADMIN, RELATIONS, ANALYST}),
    "segments:snapshot": frozenset({ADMIN, RELATIONS, ANALYST}),
    # discovered groups (libcrm/segments/discovery_views.py): running and saving as a segment
    # is defining segments
    "segments:discover": frozenset({ADMIN, RELATIONS, ANALYST}),
    "segments:discover_save": frozenset({ADMIN, RELATIONS, ANALYST}),
    # identity linkage (libcrm/linkage/views.py): reviewers see two patrons' personal data
    "linkage:queue": IMPORTERS,
    "linkage:candidate": IMPORTERS,
    "linkage:decide": IMPORTERS,
    "linkage:merges": IMPORTERS,
    "linkage:merge": IMPORTERS,
    "linkage:unmerge": IMPORTERS,
    "linkage:runs": IMPORTERS,
    "linkage:run": IMPORTERS,
    "linkage:run-start": IMPORTERS,
    # the usage dashboard (libcrm/insight/views.py): aggregates only
    "insight:dashboard": AGGREGATES,
    "insight:dashboard-csv": AGGREGATES,
    "insight:dashboard-xlsx": AGGREGATES,
    "console:audit": ADMINS,
    "console:audit-export": ADMINS,
    "console:audit-verify": ADMINS,
    "console:staff-list": ADMINS,
    "console:staff-create": ADMINS,
    "console:staff-role": ADMINS,
    "console:staff-active": ADMINS,
    "console:staff-mfa-reset": ADMINS,
    "console:staff-exports": PERSONAL,
    "console:staff-export-new": PERSONAL,
    "console:staff-export-approve": frozenset({ADMIN, RELATIONS}),
    "console:staff-export-reject": frozenset({ADMIN, RELATIONS}),
    "console:staff-export-download": PERSONAL,
    # the patron portal (libcrm/portal): patrons' own pages; staff may only e-mail a link
    "portal:home": PORTAL,
    "portal:signin": PUBLIC,
    "portal:signout": PUBLIC,
    "portal:forgot-password": PUBLIC,
    "portal:set-password": PUBLIC,
    "portal:my-data": PORTAL,
    "portal:consents": PORTAL,
    "portal:export": PORTAL,
    "portal:erase": PORTAL,
    "portal:staff-send-activation": EDITORS,
    "portal:staff-set-consent": EDITORS,
    # data-subject requests and retention (libcrm.subjects)
    "subjects:patron-export": SUBJECT_REQUESTS,
    "subjects:patron-correct": EDITORS,
    "subjects:patron-erase": SUBJECT_REQUESTS,
    "subjects:retention": ADMINS,
    "subjects:retention-create": ADMINS,
    "subjects:retention-edit": ADMINS,
}

# API operations by operation id → the token scopes they need (all of them); PUBLIC operations
# need no token.
API: dict[str, frozenset[str] | str] = {
    "health": PUBLIC,
    "list_patrons": frozenset({"patrons:read"}),
    "create_patron": frozenset({"patrons:write"}),
    "lookup_patron": frozenset({"patrons:read"}),
    "read_patron": frozenset({"patrons:read"}),
    "change_patron": frozenset({"patrons:read", "patrons:write"}),  # it answers with the patron
    "create_identifier": frozenset({"patrons:write"}),
    "delete_identifier": frozenset({"patrons:write"}),
    "ingest_ndjson": frozenset({"events:write"}),
    "export_patron": frozenset({"patrons:read", "patrons:reveal"}),
    "erase_patron_api": frozenset({"patrons:erase"}),
    "list_candidates": frozenset({"linkage:review"}),
    "decide": frozenset({"linkage:review"}),
    "create_merge": frozenset({"linkage:review"}),
    "undo_merge": frozenset({"linkage:review"}),
    # tags and segments (libcrm/segments/api.py): members are pseudonymous keys only
    "list_segments": frozenset({"segments:read"}),
    "read_segment": frozenset({"segments:read"}),
    "count_rule": frozenset({"segments:read"}),
    "list_segment_snapshots": frozenset({"segments:read"}),
    "list_segment_members": frozenset({"segments:read"}),
    "create_segment": frozenset({"segments:write"}),
    "put_segment": frozenset({"segments:write"}),
    "take_segment_snapshot": frozenset({"segments:write"}),
}
