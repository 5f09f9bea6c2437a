"""Initial schema: users, roles, resources, permissions, assignments, inheritance, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(512)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_index("ix_users_display_name", "users", ["display_name"])
    op.create_index("ix_users_email", "users", ["email"])

    for table in ("roles", "resources"):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(100 if table == "roles" else 200), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("created_at", TS, nullable=False),
            sa.Column("updated_at", TS, nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
        )
        op.create_index(f"uq_{table}_name_lower", table, [sa.text("lower(name)")], unique=True)

    op.create_table(
        "permissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "resource_id",
            sa.Integer(),
            sa.ForeignKey("resources.id", ondelete="CASCADE", name="fk_permissions_resource_id_resources"),
            nullable=False,
        ),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("resource_id", "action", name="uq_permissions_resource_id"),
    )

    op.create_table(
        "user_roles",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_user_roles_user_id_users"),
            primary_key=True,
        ),
        sa.Column(
            "role_id",
            sa.Integer(),
            sa.ForeignKey("roles.id", ondelete="CASCADE", name="fk_user_roles_role_id_roles"),
            primary_key=True,
        ),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_user_roles_role_user", "user_roles", ["role_id", "user_id"])

    op.create_table(
        "role_permissions",
        sa.Column(
            "role_id",
            sa.Integer(),
            sa.ForeignKey("roles.id", ondelete="CASCADE", name="fk_role_permissions_role_id_roles"),
            primary_key=True,
        ),
        sa.Column(
            "permission_id",
            sa.Integer(),
            sa.ForeignKey(
                "permissions.id",
                ondelete="CASCADE",
                name="fk_role_permissions_permission_id_permissions",
            ),
            primary_key=True,
        ),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
    )
    op.create_index(
        "ix_role_permissions_permission_role", "role_permissions", ["permission_id", "role_id"]
    )

    op.create_table(
        "role_inheritance",
        sa.Column(
            "role_id",
            sa.Integer(),
            sa.ForeignKey("roles.id", ondelete="CASCADE", name="fk_role_inheritance_role_id_roles"),
            primary_key=True,
        ),
        sa.Column(
            "inherits_from_id",
            sa.Integer(),
            sa.ForeignKey(
                "roles.id", ondelete="CASCADE", name="fk_role_inheritance_inherits_from_id_roles"
            ),
            primary_key=True,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "role_id <> inherits_from_id", name="ck_role_inheritance_no_self_inheritance"
        ),
    )
    op.create_index(
        "ix_role_inheritance_inherits_from_role",
        "role_inheritance",
        ["inherits_from_id", "role_id"],
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("record_key", sa.String(400), nullable=False),
        sa.Column("before", sa.Text()),
        sa.Column("after", sa.Text()),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_operator_at", "audit_log", ["operator", "at"])
    op.create_index("ix_audit_log_record", "audit_log", ["record_type", "record_key"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "role_inheritance",
        "role_permissions",
        "user_roles",
        "permissions",
        "resources",
        "roles",
        "users",
    ):
        op.drop_table(table)
