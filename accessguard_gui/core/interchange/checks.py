"""The set-based checks of an import: the rules of editing, applied to whole tables in SQL.

Runs on the staging file (``staging.py``) with the target's committed state attached as
``tgt``. Each step marks rows: ``problem`` (why a row is refused) or a ``verdict`` —
``add``, ``change`` (``detail`` says old → new), ``leave`` (already there, or differing in
add mode) — and mirror mode lists what it would remove in ``s_removals``. The rules:
names, lengths and e-mails were checked row by row on the way in (core/validation.py);
here come duplicates ignoring case (core/keys.py name keys), unknown references,
inheritance cycles and chains longer than check_access explains, separation of duty
(expired assignments count, as in rbac.ssd_violations) and sets smaller than their
cardinality. Every step is a handful of statements whose cost grows with the rows, not
one query per row.
"""

from __future__ import annotations

from collections import defaultdict, deque
from enum import StrEnum

from ..errors import CycleError
from ..rbac import MAX_PATH_DEPTH
from .staging import DERIVED, ENTITIES, SKELETONS, Staging

CYCLES_EXPLAINED = 1000  # imported inheritances on a cycle shown with their path


class Mode(StrEnum):
    """What an import may do to records already in the database."""

    ADD = "add"  # only add what is missing; existing records are left alone
    UPDATE = "update"  # add, and change existing records to the source's values
    MIRROR = "mirror"  # update, and remove what the source lacks (in the tables it covers)


# Per staged table: its key columns (duplicates ignoring case are rows with equal keys),
# the word for one row, and the key shown in the report.
KEYS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "users": (("ukey",), "user", "username"),
    "roles": (("nkey",), "role", "name"),
    "resources": (("nkey",), "resource", "name"),
    "ssd_sets": (("nkey",), "separation-of-duty set", "name"),
    "permissions": (("reskey", "action"), "permission", "resource || ': ' || action"),
    "role_parents": (("rkey", "pkey"), "inheritance", "role || ' inherits from ' || parent"),
    "user_roles": (("ukey", "rkey"), "assignment", "username || ' \u2192 ' || role"),
    "role_permissions": (
        ("rkey", "reskey", "action"),
        "grant",
        "role || ' \u2192 ' || resource || ': ' || action",
    ),
    "ssd_set_roles": (("skey", "rkey"), "set member", "set_name || ' \u220b ' || role"),
}

_Q = "'\u201c' || {0} || '\u201d'"  # a value in curly quotes, in SQL


def _q(expr: str) -> str:
    return _Q.format(expr)


class Checker:
    """Runs every check of one import on a staging file whose ``tgt`` is attached."""

    def __init__(self, staging: Staging, mode: Mode) -> None:
        self.st = staging
        self.mode = mode

    def mirrors(self, kind: str) -> bool:
        """True when mirror mode removes target rows of ``kind`` the source lacks."""
        return self.mode is Mode.MIRROR and kind in self.st.covered

    def run(self) -> None:
        st = self.st
        for kind in KEYS:
            derived = "".join(f", {column} = NULL" for column in DERIVED[kind])
            st.execute(
                f"UPDATE s_{kind} SET problem = staged, verdict = NULL, detail = NULL{derived}"
            )
        st.execute("DELETE FROM s_removals")
        st.execute("DELETE FROM s_notes WHERE file = 0")  # found by an earlier run
        self._duplicates()
        self._self_inheritance()
        self._target_ids()
        if SKELETONS:
            self._lookalikes()
        self._references()
        if self.mode is Mode.MIRROR:
            self._removals()
        self._classify()
        self._cycles_and_chains()
        self._separation_of_duty()
        for kind in KEYS:
            st.execute(
                f"UPDATE s_{kind} SET verdict = 'refuse', detail = problem "
                "WHERE problem IS NOT NULL"
            )
        st.conn.commit()

    # ------------------------------------------------------------------ row rules

    def _duplicates(self) -> None:
        for kind, (keys, word, shown) in KEYS.items():
            cols = ", ".join(keys)
            join = " AND ".join(f"s_{kind}.{k} = g.{k}" for k in keys)
            case_note = (
                " (names are compared ignoring case)" if kind in (
                    "users", "roles", "resources", "ssd_sets") else ""
            )
            self.st.execute(
                f"UPDATE s_{kind} SET problem = 'Duplicate {word}: the same as ' || f.name || "
                f"':' || d.line || ' ' || {_q('d.shown')} || '{case_note}.' "
                f"FROM (SELECT {cols}, min(seq) AS first FROM s_{kind} GROUP BY {cols} "
                f"HAVING count(*) > 1) AS g "
                f"JOIN (SELECT seq, line, file, {shown} AS shown FROM s_{kind}) AS d "
                f"ON d.seq = g.first JOIN s_files f ON f.id = d.file "
                f"WHERE {join} AND s_{kind}.seq > g.first AND s_{kind}.problem IS NULL"
            )

    def _self_inheritance(self) -> None:
        self.st.execute(
            "UPDATE s_role_parents SET problem = 'A role cannot inherit from itself ('"
            " || role || ').' WHERE problem IS NULL AND rkey = pkey"
        )

    def _target_ids(self) -> None:
        st = self.st
        for kind, column in (
            ("users", "username_key"), ("roles", "name_key"), ("resources", "name_key"),
            ("ssd_sets", "name_key"),
        ):
            key = "ukey" if kind == "users" else "nkey"
            st.execute(
                f"UPDATE s_{kind} SET target_id = t.id FROM tgt.{kind} t "
                f"WHERE t.{column} = s_{kind}.{key}"
            )
        st.execute(
            "UPDATE s_permissions SET target_id = p.id FROM tgt.permissions p "
            "JOIN tgt.resources r ON r.id = p.resource_id "
            "WHERE r.name_key = s_permissions.reskey AND p.action = s_permissions.action"
        )

    def _lookalikes(self) -> None:
        """Names that read like another name (core/lookalike.py) are refused, as editing
        refuses them: within the source, and against the database."""
        for kind, key, name, word, target_name, target_key, target_skel in (
            ("users", "ukey", "username", "user", "username", "username_key",
             "username_skeleton"),
            ("roles", "nkey", "name", "role", "name", "name_key", "name_skeleton"),
            ("resources", "nkey", "name", "resource", "name", "name_key", "name_skeleton"),
            ("ssd_sets", "nkey", "name", "separation-of-duty set", "name", "name_key",
             "name_skeleton"),
        ):
            tail = "Choose a name that reads differently."
            self.st.execute(
                f"UPDATE s_{kind} SET problem = {_q(f's_{kind}.{name}')} || ' looks the same "
                f"as the {word} ' || {_q(f'd.{name}')} || ' (' || f.name || ':' || d.line || "
                f"'). {tail}' FROM (SELECT skel, min(seq) AS first FROM s_{kind} WHERE "
                f"problem IS NULL AND skel IS NOT NULL GROUP BY skel HAVING count(DISTINCT "
                f"{key}) > 1) g JOIN s_{kind} d ON d.seq = g.first JOIN s_files f "
                f"ON f.id = d.file WHERE s_{kind}.skel = g.skel AND s_{kind}.{key} <> d.{key} "
                f"AND s_{kind}.problem IS NULL"
            )
            self.st.execute(
                f"UPDATE s_{kind} SET problem = {_q(f's_{kind}.{name}')} || ' looks the same "
                f"as the existing {word} ' || {_q(f't.{target_name}')} || '. {tail}' "
                f"FROM tgt.{kind} t WHERE t.{target_skel} = s_{kind}.skel "
                f"AND t.{target_key} <> s_{kind}.{key} AND s_{kind}.problem IS NULL"
            )

    def _known(self, kind: str, key_expr: str) -> str:
        """SQL true when the ``kind`` record of key ``key_expr`` exists after the import."""
        source_key, _name, target_key = ENTITIES[kind]
        target_table = kind
        in_source = f"EXISTS (SELECT 1 FROM s_{kind} x WHERE x.{source_key} = {key_expr})"
        if self.mirrors(kind):
            return in_source
        return (
            f"({in_source} OR EXISTS (SELECT 1 FROM tgt.{target_table} y "
            f"WHERE y.{target_key} = {key_expr}))"
        )

    def _unknown(self, table: str, kind: str, key: str, shown: str, word: str) -> None:
        why = (
            "not in the source, and mirror mode removes what the source lacks"
            if self.mirrors(kind)
            else "neither in the source nor in the database"
        )
        self.st.execute(
            f"UPDATE s_{table} SET problem = 'Unknown {word} ' || {_q(shown)} || ' ({why}).' "
            f"WHERE problem IS NULL AND NOT {self._known(kind, f's_{table}.{key}')}"
        )

    def _references(self) -> None:
        self._unknown("permissions", "resources", "reskey", "resource", "resource")
        self._unknown("role_parents", "roles", "rkey", "role", "role")
        self._unknown("role_parents", "roles", "pkey", "parent", "role")
        self._unknown("user_roles", "users", "ukey", "username", "user")
        self._unknown("user_roles", "roles", "rkey", "role", "role")
        self._unknown("role_permissions", "roles", "rkey", "role", "role")
        self._unknown("ssd_set_roles", "ssd_sets", "skey", "set_name", "separation-of-duty set")
        self._unknown("ssd_set_roles", "roles", "rkey", "role", "role")
        in_source = (
            "EXISTS (SELECT 1 FROM s_permissions x WHERE x.reskey = s_role_permissions.reskey "
            "AND x.action = s_role_permissions.action)"
        )
        in_target = (
            "EXISTS (SELECT 1 FROM tgt.permissions p JOIN tgt.resources r "
            "ON r.id = p.resource_id WHERE r.name_key = s_role_permissions.reskey "
            "AND p.action = s_role_permissions.action)"
        )
        known = in_source
        why = "not in the source, and mirror mode removes what the source lacks"
        if not self.mirrors("permissions"):
            # A permission in the database stays unless mirror mode removes its resource.
            kept = in_target
            if self.mirrors("resources"):
                kept = (f"({in_target} AND EXISTS (SELECT 1 FROM s_resources x "
                        "WHERE x.nkey = s_role_permissions.reskey))")
            known = f"({in_source} OR {kept})"
            if not self.mirrors("resources"):
                why = "neither in the source nor in the database"
        shown = _q("resource || ': ' || action")
        self.st.execute(
            f"UPDATE s_role_permissions SET problem = 'Unknown permission ' || {shown} || "
            f"' ({why}).' WHERE problem IS NULL AND NOT {known}"
        )

    # ------------------------------------------------------------------ verdicts

    def _classify(self) -> None:
        st = self.st
        q = _q
        diffs = {
            "users": (
                "tgt.users",
                "(CASE WHEN s.username <> t.username THEN 'username ' || "
                f"{q('t.username')} || ' \u2192 ' || {q('s.username')} || '; ' ELSE '' END) || "
                "(CASE WHEN s.display_name IS NOT NULL AND s.display_name <> t.display_name "
                f"THEN 'display name ' || {q('t.display_name')} || ' \u2192 ' || "
                f"{q('s.display_name')} || '; ' ELSE '' END) || "
                "(CASE WHEN s.email IS NOT NULL AND s.email <> coalesce(t.email, '') "
                "THEN 'e-mail ' || coalesce(" + q("t.email") + ", '(none)') || ' \u2192 ' || "
                "coalesce(" + q("nullif(s.email, '')") + ", '(none)') || '; ' ELSE '' END) || "
                "(CASE WHEN s.active IS NOT NULL AND s.active <> t.active THEN 'active ' || "
                "(CASE WHEN t.active THEN 'yes' ELSE 'no' END) || ' \u2192 ' || "
                "(CASE WHEN s.active THEN 'yes' ELSE 'no' END) || '; ' ELSE '' END) || "
                "(CASE WHEN s.password_hash IS NOT NULL AND s.password_hash IS NOT "
                "t.password_hash THEN 'password hash ' || (CASE WHEN t.password_hash IS NULL "
                "THEN 'set' ELSE 'replaced' END) || '; ' ELSE '' END)",
            ),
            "roles": ("tgt.roles", _named_diff()),
            "resources": ("tgt.resources", _named_diff()),
            "ssd_sets": (
                "tgt.ssd_sets",
                _named_diff() + " || (CASE WHEN s.cardinality IS NOT NULL AND "
                "s.cardinality <> t.cardinality THEN 'cardinality ' || t.cardinality || "
                "' \u2192 ' || s.cardinality || '; ' ELSE '' END)",
            ),
            "permissions": (
                "tgt.permissions",
                "(CASE WHEN s.description IS NOT NULL AND s.description <> t.description "
                f"THEN 'description ' || {q('t.description')} || ' \u2192 ' || "
                f"{q('s.description')} || '; ' ELSE '' END)",
            ),
        }
        for kind, (table, diff) in diffs.items():
            st.execute(
                f"UPDATE s_{kind} SET detail = d.diff FROM (SELECT s.seq, {diff} AS diff "
                f"FROM s_{kind} s JOIN {table} t ON t.id = s.target_id "
                f"WHERE s.problem IS NULL) d WHERE d.seq = s_{kind}.seq"
            )
            self._verdicts(kind, "target_id IS NOT NULL")
        # Relations: found in the target by the keys of both ends.
        st.execute(
            "UPDATE s_user_roles SET in_target = 1, detail = CASE WHEN s_user_roles.expires_at "
            "IS NOT NULL AND s_user_roles.expires_at IS NOT a.expires_at THEN 'expires ' || "
            "coalesce(substr(a.expires_at, 1, 16), 'never') || ' \u2192 ' || "
            "substr(s_user_roles.expires_at, 1, 16) || ' UTC; ' ELSE '' END "
            "FROM tgt.users u, tgt.roles r, tgt.user_roles a "
            "WHERE u.username_key = s_user_roles.ukey AND r.name_key = s_user_roles.rkey "
            "AND a.user_id = u.id AND a.role_id = r.id AND s_user_roles.problem IS NULL"
        )
        st.execute(
            "UPDATE s_role_parents SET in_target = 1, detail = '' "
            "FROM tgt.roles r, tgt.roles p, tgt.role_inheritance i "
            "WHERE r.name_key = s_role_parents.rkey AND p.name_key = s_role_parents.pkey "
            "AND i.role_id = r.id AND i.inherits_from_id = p.id "
            "AND s_role_parents.problem IS NULL"
        )
        st.execute(
            "UPDATE s_role_permissions SET in_target = 1, detail = '' "
            "FROM tgt.roles r, tgt.resources res, tgt.permissions p, tgt.role_permissions g "
            "WHERE r.name_key = s_role_permissions.rkey AND res.name_key = "
            "s_role_permissions.reskey AND p.resource_id = res.id AND p.action = "
            "s_role_permissions.action AND g.role_id = r.id AND g.permission_id = p.id "
            "AND s_role_permissions.problem IS NULL"
        )
        st.execute(
            "UPDATE s_ssd_set_roles SET in_target = 1, detail = '' "
            "FROM tgt.ssd_sets s, tgt.roles r, tgt.ssd_set_roles m "
            "WHERE s.name_key = s_ssd_set_roles.skey AND r.name_key = s_ssd_set_roles.rkey "
            "AND m.ssd_set_id = s.id AND m.role_id = r.id AND s_ssd_set_roles.problem IS NULL"
        )
        for kind in ("user_roles", "role_parents", "role_permissions", "ssd_set_roles"):
            self._verdicts(kind, "coalesce(in_target, 0) = 1")

    def _verdicts(self, kind: str, found: str) -> None:
        if self.mode is Mode.ADD:
            changed = (
                "'leave', 'Already in the database; differs (' || rtrim(detail, '; ') || "
                "'), left alone in add mode.'"
            )
        else:
            changed = "'change', rtrim(detail, '; ')"
        self.st.execute(
            f"UPDATE s_{kind} SET (verdict, detail) = (CASE "
            f"WHEN NOT ({found}) THEN 'add' "
            "WHEN coalesce(detail, '') = '' THEN 'leave' ELSE 'change' END, CASE "
            f"WHEN NOT ({found}) THEN NULL "
            "WHEN coalesce(detail, '') = '' THEN 'Already in the database.' "
            "ELSE detail END) WHERE problem IS NULL"
        )
        self.st.execute(
            f"UPDATE s_{kind} SET (verdict, detail) = (SELECT {changed}) "
            "WHERE problem IS NULL AND verdict = 'change'"
        )

    # ------------------------------------------------------------------ mirror mode

    def _removals(self) -> None:
        """Target rows of the covered tables that the source lacks, and the rows that
        depend on them (a removed role's assignments), into ``s_removals``."""
        st = self.st
        add = "INSERT INTO s_removals (kind, id1, id2, label) "
        for kind, key, source_key, label in (
            ("users", "username_key", "ukey", "t.username"),
            ("roles", "name_key", "nkey", "t.name"),
            ("resources", "name_key", "nkey", "t.name"),
            ("ssd_sets", "name_key", "nkey", "t.name"),
        ):
            if self.mirrors(kind):
                st.execute(
                    f"{add} SELECT '{kind}', t.id, NULL, {label} FROM tgt.{kind} t WHERE NOT "
                    f"EXISTS (SELECT 1 FROM s_{kind} s WHERE s.{source_key} = t.{key}) "
                    "ORDER BY t.id"
                )
        gone = "(SELECT id1 FROM s_removals WHERE kind = '{0}')"
        lacks_permission = (
            "NOT EXISTS (SELECT 1 FROM s_permissions s WHERE s.reskey = r.name_key "
            "AND s.action = p.action)"
        )
        conditions = [f"p.resource_id IN {gone.format('resources')}"]
        if self.mirrors("permissions"):
            conditions.append(lacks_permission)
        st.execute(
            f"{add} SELECT 'permissions', p.id, NULL, r.name || ': ' || p.action "
            "FROM tgt.permissions p JOIN tgt.resources r ON r.id = p.resource_id "
            f"WHERE {' OR '.join(conditions)} ORDER BY p.id"
        )
        self._relation_removals(
            "user_roles", "tgt.user_roles", "user_id", "role_id",
            "u.username || ' \u2192 ' || r.name",
            "JOIN tgt.users u ON u.id = x.user_id JOIN tgt.roles r ON r.id = x.role_id",
            [("users", "user_id"), ("roles", "role_id")],
            "NOT EXISTS (SELECT 1 FROM s_user_roles s WHERE s.ukey = u.username_key "
            "AND s.rkey = r.name_key)",
        )
        self._relation_removals(
            "role_permissions", "tgt.role_permissions", "role_id", "permission_id",
            "r.name || ' \u2192 ' || res.name || ': ' || p.action",
            "JOIN tgt.roles r ON r.id = x.role_id JOIN tgt.permissions p "
            "ON p.id = x.permission_id JOIN tgt.resources res ON res.id = p.resource_id",
            [("roles", "role_id"), ("permissions", "permission_id")],
            "NOT EXISTS (SELECT 1 FROM s_role_permissions s WHERE s.rkey = r.name_key "
            "AND s.reskey = res.name_key AND s.action = p.action)",
        )
        self._relation_removals(
            "role_parents", "tgt.role_inheritance", "role_id", "inherits_from_id",
            "r.name || ' inherits from ' || p.name",
            "JOIN tgt.roles r ON r.id = x.role_id JOIN tgt.roles p ON p.id = x.inherits_from_id",
            [("roles", "role_id"), ("roles", "inherits_from_id")],
            "NOT EXISTS (SELECT 1 FROM s_role_parents s WHERE s.rkey = r.name_key "
            "AND s.pkey = p.name_key)",
        )
        self._relation_removals(
            "ssd_set_roles", "tgt.ssd_set_roles", "ssd_set_id", "role_id",
            "s.name || ' \u220b ' || r.name",
            "JOIN tgt.ssd_sets s ON s.id = x.ssd_set_id JOIN tgt.roles r ON r.id = x.role_id",
            [("ssd_sets", "ssd_set_id"), ("roles", "role_id")],
            "NOT EXISTS (SELECT 1 FROM s_ssd_set_roles m WHERE m.skey = s.name_key "
            "AND m.rkey = r.name_key)",
        )

    def _relation_removals(
        self,
        kind: str,
        table: str,
        first: str,
        second: str,
        label: str,
        joins: str,
        parents: list[tuple[str, str]],
        lacks: str,
    ) -> None:
        conditions = [
            f"x.{column} IN (SELECT id1 FROM s_removals WHERE kind = '{parent}')"
            for parent, column in parents
        ]
        if self.mirrors(kind):
            conditions.append(lacks)
        self.st.execute(
            f"INSERT INTO s_removals (kind, id1, id2, label) SELECT '{kind}', x.{first}, "
            f"x.{second}, {label} FROM {table} x {joins} WHERE {' OR '.join(conditions)} "
            f"ORDER BY x.{first}, x.{second}"
        )

    # ------------------------------------------------------------------ the graph

    def _final_edges(self) -> None:
        """``w_edges(child, parent, seq)``: role inheritance after the import, by role key;
        ``seq`` is the source row of an edge the import adds (NULL: already there)."""
        st = self.st
        st.execute("DROP TABLE IF EXISTS temp.w_edges")
        st.execute(
            "CREATE TEMP TABLE w_edges (child TEXT NOT NULL, parent TEXT NOT NULL, seq INTEGER, "
            "round INTEGER)"
        )
        st.execute(
            "INSERT INTO w_edges (child, parent, seq) SELECT rkey, pkey, "
            "CASE WHEN in_target = 1 THEN NULL ELSE seq END FROM s_role_parents "
            "WHERE problem IS NULL"
        )
        st.execute(
            "INSERT INTO w_edges (child, parent, seq) SELECT r.name_key, p.name_key, NULL "
            "FROM tgt.role_inheritance i JOIN tgt.roles r ON r.id = i.role_id "
            "JOIN tgt.roles p ON p.id = i.inherits_from_id WHERE NOT EXISTS (SELECT 1 "
            "FROM s_role_parents s WHERE s.rkey = r.name_key AND s.pkey = p.name_key "
            "AND s.problem IS NULL) AND NOT EXISTS (SELECT 1 FROM s_removals x WHERE "
            "x.kind = 'role_parents' AND x.id1 = i.role_id AND x.id2 = i.inherits_from_id)"
        )
        st.execute("CREATE INDEX temp.w_edges_child ON w_edges(child)")
        st.execute("CREATE INDEX temp.w_edges_parent ON w_edges(parent)")

    def _role_names(self, keys: set[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for key in keys:
            name = self.st.scalar(
                "SELECT coalesce((SELECT role FROM s_role_parents WHERE rkey = ?1 LIMIT 1), "
                "(SELECT name FROM s_roles WHERE nkey = ?1 LIMIT 1), "
                "(SELECT name FROM tgt.roles WHERE name_key = ?1))",
                (key,),
            )
            names[key] = name or key
        return names

    def _cycles_and_chains(self) -> None:
        st = self.st
        if not st.scalar("SELECT count(*) FROM s_role_parents WHERE problem IS NULL"):
            return
        self._final_edges()
        # Peel the graph from its top: round r removes the edges of roles nobody (left)
        # inherits from. Within the allowed depth an acyclic graph empties in at most
        # MAX_PATH_DEPTH rounds; what is left after them lies on a cycle or on a chain
        # longer than check_access explains. At most MAX_PATH_DEPTH + 1 statements.
        for number in range(1, MAX_PATH_DEPTH + 2):
            if not st.conn.exec_driver_sql(
                "UPDATE w_edges SET round = ? WHERE round IS NULL AND child NOT IN "
                "(SELECT parent FROM w_edges WHERE round IS NULL)",
                (number,),
            ).rowcount:
                break
        left = list(st.rows("SELECT child, parent, seq FROM w_edges WHERE round IS NULL"))
        if not left:
            return
        graph: dict[str, list[str]] = defaultdict(list)
        for child, parent, _seq in left:
            graph[child].append(parent)
        chain = (
            f"This inheritance makes a chain of more than {MAX_PATH_DEPTH + 1} roles each "
            f"inheriting from the next; at most {MAX_PATH_DEPTH + 1} are allowed."
        )
        ours = [(child, parent, seq) for child, parent, seq in left if seq is not None]
        # A path search each, for a bounded number of them.
        paths = [(child, seq, _path(graph, parent, child))
                 for child, parent, seq in ours[:CYCLES_EXPLAINED]]
        names = self._role_names(
            {child for child, _s, _p in paths} | {k for _c, _s, p in paths for k in p or ()}
        )
        for child, seq, path in paths:
            message = chain if path is None else CycleError(
                [names[child], *(names[k] for k in path)]
            ).message
            self._refuse_edge(seq, message)
        for _child, _parent, seq in ours[CYCLES_EXPLAINED:]:
            self._refuse_edge(seq, "This inheritance is part of a cycle or of a chain of more "
                              f"than {MAX_PATH_DEPTH + 1} roles.")
        if not ours:
            # The edges left are the database's, made too deep by edges the import puts
            # above them: refuse those (every imported edge over a role left).
            st.execute(
                "WITH RECURSIVE above(k) AS (SELECT child FROM w_edges WHERE round IS NULL "
                "UNION SELECT e.child FROM w_edges e JOIN above ON e.parent = above.k) "
                "UPDATE s_role_parents SET problem = ? WHERE problem IS NULL AND seq IN "
                "(SELECT seq FROM w_edges WHERE seq IS NOT NULL AND parent IN above)",
                (chain,),
            )

    def _refuse_edge(self, seq: int, message: str) -> None:
        self.st.execute(
            "UPDATE s_role_parents SET problem = ? WHERE seq = ? AND problem IS NULL",
            (message, seq),
        )

    # ------------------------------------------------------------------ separation of duty

    def _separation_of_duty(self) -> None:
        st = self.st
        st.execute("DROP TABLE IF EXISTS temp.w_members")
        st.execute("CREATE TEMP TABLE w_members (skey TEXT NOT NULL, rkey TEXT NOT NULL)")
        st.execute(
            "INSERT INTO w_members SELECT skey, rkey FROM s_ssd_set_roles WHERE problem IS NULL"
        )
        st.execute(
            "INSERT INTO w_members SELECT s.name_key, r.name_key FROM tgt.ssd_set_roles m "
            "JOIN tgt.ssd_sets s ON s.id = m.ssd_set_id JOIN tgt.roles r ON r.id = m.role_id "
            "WHERE NOT EXISTS (SELECT 1 FROM s_removals x WHERE x.kind = 'ssd_set_roles' "
            "AND x.id1 = m.ssd_set_id AND x.id2 = m.role_id) AND NOT EXISTS (SELECT 1 FROM "
            "s_ssd_set_roles y WHERE y.skey = s.name_key AND y.rkey = r.name_key "
            "AND y.problem IS NULL)"
        )
        if not st.scalar("SELECT count(*) FROM w_members"):
            return
        # The cardinality of every set after the import.
        st.execute("DROP TABLE IF EXISTS temp.w_sets")
        st.execute(
            "CREATE TEMP TABLE w_sets AS SELECT k.skey, coalesce((SELECT cardinality FROM "
            "s_ssd_sets s WHERE s.nkey = k.skey AND s.problem IS NULL AND s.cardinality IS "
            "NOT NULL), (SELECT cardinality FROM tgt.ssd_sets t WHERE t.name_key = k.skey)) "
            "AS cardinality, (SELECT count(*) FROM w_members m WHERE m.skey = k.skey) AS "
            "members FROM (SELECT DISTINCT skey FROM w_members UNION SELECT nkey FROM "
            "s_ssd_sets WHERE problem IS NULL) k"
        )
        st.execute(
            "UPDATE s_ssd_sets SET problem = 'The set needs at least ' || w.cardinality || "
            "' roles, it would have ' || w.members || '.' FROM w_sets w WHERE w.skey = "
            "s_ssd_sets.nkey AND s_ssd_sets.problem IS NULL AND w.members < w.cardinality"
        )
        if not st.scalar("SELECT count(*) FROM s_role_parents WHERE problem IS NULL"):
            st.execute("DROP TABLE IF EXISTS temp.w_edges")
            st.execute("CREATE TEMP TABLE w_edges (child TEXT, parent TEXT, seq INTEGER)")
            st.execute(
                "INSERT INTO w_edges SELECT r.name_key, p.name_key, NULL FROM "
                "tgt.role_inheritance i JOIN tgt.roles r ON r.id = i.role_id JOIN tgt.roles p "
                "ON p.id = i.inherits_from_id WHERE NOT EXISTS (SELECT 1 FROM s_removals x "
                "WHERE x.kind = 'role_parents' AND x.id1 = i.role_id AND x.id2 = "
                "i.inherits_from_id)"
            )
        else:
            self._final_edges()
        # seniors(skey, member, senior): ``senior`` is a member role or inherits from one.
        st.execute("DROP TABLE IF EXISTS temp.w_seniors")
        st.execute(
            "CREATE TEMP TABLE w_seniors AS WITH RECURSIVE up(skey, member, senior) AS "
            "(SELECT skey, rkey, rkey FROM w_members UNION SELECT up.skey, up.member, "
            "e.child FROM up JOIN w_edges e ON e.parent = up.senior) SELECT * FROM up"
        )
        st.execute("CREATE INDEX temp.w_seniors_senior ON w_seniors(senior)")
        # Assignments after the import (expired ones count), for the roles that matter.
        st.execute("DROP TABLE IF EXISTS temp.w_assign")
        st.execute("CREATE TEMP TABLE w_assign (ukey TEXT NOT NULL, rkey TEXT NOT NULL, "
                   "seq INTEGER, old INTEGER NOT NULL)")
        st.execute(
            "INSERT INTO w_assign SELECT ukey, rkey, seq, coalesce(in_target, 0) FROM "
            "s_user_roles WHERE problem IS NULL AND rkey IN (SELECT senior FROM w_seniors)"
        )
        st.execute(
            "INSERT INTO w_assign SELECT u.username_key, r.name_key, NULL, 1 FROM tgt.roles r "
            "JOIN tgt.user_roles a ON a.role_id = r.id JOIN tgt.users u ON u.id = a.user_id "
            "WHERE r.name_key IN (SELECT senior FROM w_seniors) AND NOT EXISTS (SELECT 1 FROM "
            "s_removals x WHERE x.kind = 'user_roles' AND x.id1 = a.user_id AND x.id2 = "
            "a.role_id) AND NOT EXISTS (SELECT 1 FROM s_user_roles s WHERE s.ukey = "
            "u.username_key AND s.rkey = r.name_key AND s.problem IS NULL)"
        )
        st.execute("CREATE INDEX temp.w_assign_role ON w_assign(rkey)")
        st.execute("DROP TABLE IF EXISTS temp.w_viol")
        st.execute(
            "CREATE TEMP TABLE w_viol AS SELECT a.ukey, s.skey, w.cardinality, "
            "CAST(NULL AS TEXT) AS message FROM w_assign a JOIN w_seniors s "
            "ON s.senior = a.rkey JOIN w_sets w ON w.skey = s.skey GROUP BY a.ukey, s.skey "
            "HAVING count(DISTINCT s.member) >= w.cardinality"
        )
        if st.scalar("SELECT count(*) FROM w_viol"):
            self._refuse_violations()

    def _refuse_violations(self) -> None:
        """Refuse what breaks a set, set-based (an import may break it for a million
        users at once): breaches the database already holds are left to the SoD report,
        as editing leaves them; the message of each is SeparationOfDutyError's."""
        st = self.st
        # Breaches in the database as it is (its own members, inheritance, assignments).
        st.execute("DROP TABLE IF EXISTS temp.w_old")
        st.execute(
            "CREATE TEMP TABLE w_old AS WITH RECURSIVE members(skey, rid) AS (SELECT "
            "s.name_key, m.role_id FROM tgt.ssd_set_roles m JOIN tgt.ssd_sets s ON s.id = "
            "m.ssd_set_id WHERE s.name_key IN (SELECT skey FROM w_viol)), up(skey, member, "
            "senior) AS (SELECT skey, rid, rid FROM members UNION SELECT up.skey, up.member, "
            "i.role_id FROM up JOIN tgt.role_inheritance i ON i.inherits_from_id = up.senior) "
            "SELECT u.username_key AS ukey, up.skey AS skey FROM up JOIN tgt.user_roles a "
            "ON a.role_id = up.senior JOIN tgt.users u ON u.id = a.user_id JOIN tgt.ssd_sets t "
            "ON t.name_key = up.skey WHERE u.username_key IN (SELECT ukey FROM w_viol) "
            "GROUP BY u.username_key, up.skey, t.cardinality "
            "HAVING count(DISTINCT up.member) >= t.cardinality"
        )
        st.execute(
            "DELETE FROM w_viol WHERE EXISTS (SELECT 1 FROM w_old o WHERE o.ukey = w_viol.ukey "
            "AND o.skey = w_viol.skey)"
        )
        role_name = (
            "coalesce((SELECT name FROM s_roles WHERE nkey = {0} LIMIT 1), (SELECT role FROM "
            "s_role_parents WHERE rkey = {0} LIMIT 1), (SELECT role FROM s_user_roles WHERE "
            "rkey = {0} LIMIT 1), (SELECT name FROM tgt.roles WHERE name_key = {0}), {0})"
        )
        st.execute(
            "UPDATE w_viol SET message = 'Separation of duty \u201c' || coalesce((SELECT name "
            "FROM s_ssd_sets WHERE nkey = w_viol.skey LIMIT 1), (SELECT name FROM tgt.ssd_sets "
            "WHERE name_key = w_viol.skey), w_viol.skey) || '\u201d allows fewer than ' || "
            "cardinality || ' of its roles per user: ' || coalesce((SELECT username FROM "
            "s_users WHERE ukey = w_viol.ukey LIMIT 1), (SELECT username FROM s_user_roles "
            "WHERE ukey = w_viol.ukey LIMIT 1), (SELECT username FROM tgt.users WHERE "
            "username_key = w_viol.ukey), w_viol.ukey) || ' would hold ' || (SELECT "
            "group_concat(name, ', ') FROM (SELECT DISTINCT m.member, "
            + role_name.format("m.member") + " AS name FROM w_assign a JOIN w_seniors m "
            "ON m.senior = a.rkey WHERE a.ukey = w_viol.ukey AND m.skey = w_viol.skey "
            "ORDER BY m.member)) || '.'"
        )
        # The import's own assignments that authorize a role of the set are refused.
        st.execute(
            "UPDATE s_user_roles SET problem = v.message FROM w_viol v JOIN w_seniors s "
            "ON s.skey = v.skey WHERE s_user_roles.ukey = v.ukey AND s_user_roles.rkey = "
            "s.senior AND s_user_roles.problem IS NULL AND coalesce(s_user_roles.in_target, "
            "0) = 0"
        )
        # Breaches the import causes otherwise (a new member, a lower cardinality, a new
        # inheritance): refuse those rows, once per set.
        unmarked = list(st.rows(
            "SELECT skey, min(message) FROM w_viol v WHERE NOT EXISTS (SELECT 1 FROM "
            "s_user_roles r WHERE r.ukey = v.ukey AND r.problem = v.message) GROUP BY skey"
        ))
        for skey, message in unmarked:
            marked = st.conn.exec_driver_sql(
                "UPDATE s_ssd_set_roles SET problem = ? WHERE problem IS NULL AND skey = ? "
                "AND coalesce(in_target, 0) = 0",
                (message, skey),
            ).rowcount
            marked += st.conn.exec_driver_sql(
                "UPDATE s_ssd_sets SET problem = ? WHERE problem IS NULL AND nkey = ? "
                "AND verdict IN ('add', 'change')",
                (message, skey),
            ).rowcount
            marked += st.conn.exec_driver_sql(
                "UPDATE s_role_parents SET problem = ? WHERE problem IS NULL AND "
                "coalesce(in_target, 0) = 0 AND pkey IN (SELECT senior FROM w_seniors "
                "WHERE skey = ?)",
                (message, skey),
            ).rowcount
            if not marked:
                st.execute(
                    "INSERT INTO s_notes (file, line, kind, message, refuses) "
                    "VALUES (0, 0, 'ssd_sets', ?, 1)",
                    (message,),
                )


def _named_diff() -> str:
    q = _q
    return (
        "(CASE WHEN s.name <> t.name THEN 'name ' || " + q("t.name") + " || ' \u2192 ' || "
        + q("s.name") + " || '; ' ELSE '' END) || "
        "(CASE WHEN s.description IS NOT NULL AND s.description <> t.description "
        "THEN 'description ' || " + q("t.description") + " || ' \u2192 ' || "
        + q("s.description") + " || '; ' ELSE '' END)"
    )


def _path(graph: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """Keys along a shortest path start → … → goal in ``graph`` (breadth first)."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for nxt in graph.get(node, ()):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None
