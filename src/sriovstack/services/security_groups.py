"""Neutron security groups and their rules: stored and shown; not enforced on direct (VF) ports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sriovstack.domain.attributes import (
    parse_flag,
    parse_text,
    refuse_unchangeable,
    refuse_unknown,
    require_empty,
    stamp,
)
from sriovstack.domain.errors import Conflict, InUse, InvalidInput, NotFound
from sriovstack.domain.security_rules import (
    Rule,
    default_group_rules,
    default_rules,
    normalized_cidr,
    parse_rule,
)
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.identity_tables import ProjectRow
from sriovstack.store.network_tables import (
    PortSecurityGroupRow,
    SecurityGroupRow,
    SecurityGroupRuleRow,
)
from sriovstack.store.querying import (
    Session,
    add_rows,
    delete_row,
    find_rows,
    get_row,
    lock_row,
)

DEFAULT = "default"
DEFAULT_DESCRIPTION = "Default security group"
GROUP_KEYS = frozenset({"name", "description", "stateful", "project_id", "tenant_id"})
GROUP_UPDATABLE = frozenset({"name", "description"})
RULE_KEYS = frozenset(
    {
        "security_group_id",
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "port_range_max",
        "remote_ip_prefix",
        "remote_group_id",
        "remote_address_group_id",
        "description",
        "project_id",
        "tenant_id",
    }
)


class SecurityGroupInUse(InUse):
    neutron_type = "SecurityGroupInUse"


class RuleExists(Conflict):
    neutron_type = "SecurityGroupRuleExists"


class DefaultGroupProtected(Conflict):
    neutron_type = "SecurityGroupCannotRemoveDefault"


class DefaultGroupExists(Conflict):
    neutron_type = "SecurityGroupDefaultAlreadyExists"


class DefaultGroupUnchangeable(Conflict):
    neutron_type = "SecurityGroupCannotUpdateDefault"


def create_security_group(
    env: Environment, caller: Caller, body: Mapping[str, Any]
) -> dict[str, Any]:
    """A group with Neutron's two egress rules; "default" is the project's own and made for it."""
    caller.require_member("creating a security group")
    refuse_unknown(body, GROUP_KEYS)
    name = parse_text("name", body.get("name", ""))
    if name == DEFAULT:
        raise DefaultGroupExists(
            "name: default is the name of the project's default security group, made for it"
        )
    description = parse_text("description", body.get("description", ""))
    stateful = parse_flag("stateful", body.get("stateful", True))
    project_id = caller.project_for(body)
    with env.unit_of_work() as uow:
        default_group(env, uow.session, project_id)
        row = _new_group(env, uow.session, project_id, name, description, stateful=stateful)
        view = group_view(uow.session, row)
        uow.commit()
    return view


def list_security_groups(
    env: Environment, caller: Caller, filters: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """The caller's groups (every project's for an admin), the default one made on first need.

    An admin's ``?name=`` lookup stays in the admin's own project unless a project is named:
    every project has a group called "default", and the OpenStack client, which looks groups
    up by name without a project, would otherwise find many (a deliberate change from Neutron).
    """
    where = _filters(filters, _GROUP_FILTERS)
    scope = caller.scope()
    if scope is None and "name" in where and "project_id" not in where:
        scope = caller.project_id
    with env.unit_of_work() as uow:
        default_group(env, uow.session, caller.project_id)
        rows = find_rows(
            uow.session,
            SecurityGroupRow,
            where=where,
            project_id=scope,
            order_by=("created_at", "id"),
        )
        views = [group_view(uow.session, row) for row in rows]
        uow.commit()
    return views


def show_security_group(env: Environment, caller: Caller, group_id: str) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        return group_view(uow.session, visible_group(uow.session, caller, group_id))


def update_security_group(
    env: Environment, caller: Caller, group_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    caller.require_member("changing a security group")
    refuse_unchangeable(body, GROUP_UPDATABLE, "security group")
    changes = {field: parse_text(field, value) for field, value in body.items()}
    with env.unit_of_work() as uow:
        row = visible_group(uow.session, caller, group_id)
        new_name = changes.get("name", row.name)
        if row.name == DEFAULT and new_name != DEFAULT:
            raise DefaultGroupUnchangeable("name: the default security group cannot be renamed")
        if row.name != DEFAULT and new_name == DEFAULT:
            raise DefaultGroupExists(
                "name: default is the name of the project's default security group"
            )
        for field, value in changes.items():
            setattr(row, field, value)
        row.updated_at = env.now()
        row.revision_number += 1
        view = group_view(uow.session, row)
        uow.commit()
    return view


def delete_security_group(env: Environment, caller: Caller, group_id: str) -> None:
    """Delete a group and its rules; refused while a port uses it, and for members' default."""
    caller.require_member("deleting a security group")
    with env.unit_of_work() as uow:
        row = visible_group(uow.session, caller, group_id)
        lock_row(uow.session, SecurityGroupRow, row.id)
        if row.name == DEFAULT and not caller.is_admin:
            raise DefaultGroupProtected(
                f"security group {row.id} is the project's default group and cannot be deleted"
            )
        ports = find_rows(uow.session, PortSecurityGroupRow, where={"security_group_id": row.id})
        if ports:
            held = ", ".join(sorted(p.port_id for p in ports))
            raise SecurityGroupInUse(f"security group {row.id} is in use by port(s) {held}")
        # Rules of other groups that name this one as their remote go with it, as in Neutron.
        for rule in find_rows(uow.session, SecurityGroupRuleRow, where={"remote_group_id": row.id}):
            delete_row(uow.session, rule)
        for rule in find_rows(
            uow.session, SecurityGroupRuleRow, where={"security_group_id": row.id}
        ):
            delete_row(uow.session, rule)
        delete_row(uow.session, row)
        uow.commit()


def create_rule(env: Environment, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    caller.require_member("creating a security group rule")
    refuse_unknown(body, RULE_KEYS)
    require_empty(
        "remote_address_group_id",
        body.get("remote_address_group_id"),
        "address groups are not supported; use remote_ip_prefix",
    )
    group_id = body.get("security_group_id")
    if not isinstance(group_id, str) or not group_id:
        raise InvalidInput("security_group_id", "is required: the group the rule belongs to")
    rule = parse_rule(body)
    description = parse_text("description", body.get("description", ""))
    with env.unit_of_work() as uow:
        group = visible_group(uow.session, caller, group_id)
        # Held until commit, so two identical rules sent at once cannot both pass the check.
        lock_row(uow.session, SecurityGroupRow, group.id)
        if rule.remote_group_id is not None:
            visible_group(uow.session, caller, rule.remote_group_id)
        for existing in find_rows(
            uow.session, SecurityGroupRuleRow, where={"security_group_id": group.id}
        ):
            if rule_of(existing).key() == rule.key():
                raise RuleExists(f"security group rule already exists: rule {existing.id}")
        row = _new_rule(env, group, rule, description)
        add_rows(uow.session, [row])
        group.revision_number += 1
        group.updated_at = env.now()
        view = rule_view(row, group)
        uow.commit()
    return view


def list_rules(
    env: Environment, caller: Caller, filters: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    where = _filters(filters, _RULE_FILTERS)
    with env.unit_of_work() as uow:
        default_group(env, uow.session, caller.project_id)
        rows = find_rows(
            uow.session,
            SecurityGroupRuleRow,
            where=where,
            project_id=caller.scope(),
            order_by=("created_at", "id"),
        )
        groups = _groups_of(uow.session, rows)
        views = [rule_view(row, groups[row.security_group_id]) for row in rows]
        uow.commit()
    return views


def show_rule(env: Environment, caller: Caller, rule_id: str) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        row = _visible_rule(uow.session, caller, rule_id)
        group = get_row(uow.session, SecurityGroupRow, row.security_group_id)
        assert group is not None
        return rule_view(row, group)


def delete_rule(env: Environment, caller: Caller, rule_id: str) -> None:
    caller.require_member("deleting a security group rule")
    with env.unit_of_work() as uow:
        row = _visible_rule(uow.session, caller, rule_id)
        group = get_row(uow.session, SecurityGroupRow, row.security_group_id)
        delete_row(uow.session, row)
        if group is not None:
            group.revision_number += 1
            group.updated_at = env.now()
        uow.commit()


def default_group(env: Environment, session: Session, project_id: str) -> SecurityGroupRow:
    """The project's "default" group, made with its two egress rules if it has none yet."""
    found = _default_of(session, project_id)
    if found is not None:
        return found
    # Serialise the first requests of one project, so that it gets one default group, not two.
    lock_row(session, ProjectRow, project_id)
    found = _default_of(session, project_id)
    if found is not None:
        return found
    return _new_group(env, session, project_id, DEFAULT, DEFAULT_DESCRIPTION, stateful=True)


def visible_group(session: Session, caller: Caller, group_id: str) -> SecurityGroupRow:
    """The group by ID if the caller may see it (its project's, or any for an admin)."""
    row = get_row(session, SecurityGroupRow, group_id)
    if row is None or not caller.sees(row.project_id):
        raise NotFound("security group", group_id)
    return row


def group_view(session: Session, row: SecurityGroupRow) -> dict[str, Any]:
    """The group as Neutron shows it, with its rules."""
    rules = find_rows(
        session,
        SecurityGroupRuleRow,
        where={"security_group_id": row.id},
        order_by=("created_at", "id"),
    )
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "stateful": row.stateful,
        "shared": False,
        "security_group_rules": [rule_view(rule, row) for rule in rules],
        "tags": [],
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def rule_view(row: SecurityGroupRuleRow, group: SecurityGroupRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "security_group_id": row.security_group_id,
        "direction": row.direction,
        "ethertype": row.ethertype,
        "protocol": row.protocol,
        "port_range_min": row.port_range_min,
        "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix,
        "remote_group_id": row.remote_group_id,
        "remote_address_group_id": None,
        "normalized_cidr": normalized_cidr(row.remote_ip_prefix),
        "belongs_to_default_sg": group.name == DEFAULT,
        "description": row.description,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.created_at),
        "revision_number": 0,
    }


def rule_of(row: SecurityGroupRuleRow) -> Rule:
    return Rule(
        row.direction,
        row.ethertype,
        row.protocol,
        row.port_range_min,
        row.port_range_max,
        row.remote_ip_prefix,
        row.remote_group_id,
    )


def _default_of(session: Session, project_id: str) -> SecurityGroupRow | None:
    found = find_rows(
        session,
        SecurityGroupRow,
        where={"project_id": project_id, "name": DEFAULT},
        order_by=("created_at", "id"),
        limit=1,
    )
    return found[0] if found else None


def _new_group(
    env: Environment,
    session: Session,
    project_id: str,
    name: str,
    description: str,
    *,
    stateful: bool,
) -> SecurityGroupRow:
    now = env.now()
    row = SecurityGroupRow(
        id=env.new_id(),
        project_id=project_id,
        name=name,
        description=description,
        stateful=stateful,
        created_at=now,
        updated_at=now,
        revision_number=1,
    )
    add_rows(session, [row])
    rules = default_group_rules(row.id) if name == DEFAULT else default_rules()
    add_rows(session, [_new_rule(env, row, rule, "") for rule in rules])
    return row


def _new_rule(
    env: Environment, group: SecurityGroupRow, rule: Rule, description: str
) -> SecurityGroupRuleRow:
    return SecurityGroupRuleRow(
        id=env.new_id(),
        security_group_id=group.id,
        project_id=group.project_id,
        direction=rule.direction,
        ethertype=rule.ethertype,
        protocol=rule.protocol,
        port_range_min=rule.port_range_min,
        port_range_max=rule.port_range_max,
        remote_ip_prefix=rule.remote_ip_prefix,
        remote_group_id=rule.remote_group_id,
        description=description,
        created_at=env.now(),
    )


def _visible_rule(session: Session, caller: Caller, rule_id: str) -> SecurityGroupRuleRow:
    row = get_row(session, SecurityGroupRuleRow, rule_id)
    if row is None or not caller.sees(row.project_id):
        raise NotFound("security group rule", rule_id)
    return row


def _groups_of(
    session: Session, rules: Sequence[SecurityGroupRuleRow]
) -> dict[str, SecurityGroupRow]:
    ids = sorted({rule.security_group_id for rule in rules})
    return {row.id: row for row in find_rows(session, SecurityGroupRow, where={"id": ids})}


_GROUP_FILTERS = {
    "id": "id",
    "name": "name",
    "description": "description",
    "project_id": "project_id",
    "tenant_id": "project_id",
}
_RULE_FILTERS = {
    "id": "id",
    "security_group_id": "security_group_id",
    "direction": "direction",
    "ethertype": "ethertype",
    "protocol": "protocol",
    "remote_group_id": "remote_group_id",
    "remote_ip_prefix": "remote_ip_prefix",
    "project_id": "project_id",
    "tenant_id": "project_id",
}


def _filters(filters: Mapping[str, list[str]], known: Mapping[str, str]) -> dict[str, object]:
    """Neutron's exact-match query filters (a repeated key matches any value); filters Neutron
    ignores (sort_key=, ...) are skipped."""
    return {known[key]: list(values) for key, values in filters.items() if key in known}
