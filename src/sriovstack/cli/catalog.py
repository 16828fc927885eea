"""``sriovstack flavor``, ``image`` and ``keypair``: what a server is booted from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sriovstack.cli import arguments as check
from sriovstack.cli.cloud import (
    FLAVOR,
    IMAGE,
    NOVA,
    Cloud,
    Login,
    NoSuch,
    cloud_command,
    connect,
)
from sriovstack.cli.options import Json
from sriovstack.cli.views import emit, fields_table, key, rows_table, said
from sriovstack.client import ApiError
from sriovstack.domain.errors import InvalidInput

flavor_app = typer.Typer(no_args_is_help=True, help="Flavors (Nova): RAM, vCPUs, disk, PCI.")
image_app = typer.Typer(no_args_is_help=True, help="Images (Glance).")
keypair_app = typer.Typer(no_args_is_help=True, help="SSH key pairs (Nova).")

KEYPAIRS = f"{NOVA}/os-keypairs"
PUBLIC = "os-flavor-access:is_public"
Properties = Annotated[
    list[str] | None,
    typer.Option("--property", metavar="KEY=VALUE", help="Repeatable."),
]


@cloud_command(flavor_app, "create")
def create_flavor(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    ram: Annotated[int, typer.Option("--ram", metavar="MiB")],
    vcpus: Annotated[int, typer.Option("--vcpus", metavar="N")],
    login: Login,
    disk: Annotated[int, typer.Option("--disk", metavar="GiB")] = 0,
    flavor_id: Annotated[
        str | None, typer.Option("--id", metavar="ID", help="Default: a new UUID.")
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Only for chosen projects.")] = False,
    properties: Properties = None,
    json: Json = False,
) -> None:
    """Create a flavor; `--property pci_passthrough:alias=x540vf:1` asks for a VF (admins)."""
    body = {
        "name": name,
        "ram": check.whole("--ram", ram, 1),
        "vcpus": check.whole("--vcpus", vcpus, 1),
        "disk": check.whole("--disk", disk, 0),
        PUBLIC: not private,
    }
    if flavor_id is not None:
        body["id"] = flavor_id
    specs = check.properties("--property", properties or [])
    with connect(login) as cloud:
        flavor = cloud.post(FLAVOR.path, {"flavor": body})["flavor"]
        path = f"{FLAVOR.path}/{flavor['id']}"
        if specs:
            try:
                cloud.post(f"{path}/os-extra_specs", {"extra_specs": specs})
            except ApiError:
                cloud.delete(path)  # a flavor without the properties asked for must not stay
                raise
            flavor = FLAVOR.show(cloud, str(flavor["id"]))
    emit(ctx, flavor, json, lambda: fields_table(flavor))


@cloud_command(flavor_app, "list")
def list_flavors(ctx: typer.Context, login: Login, json: Json = False) -> None:
    """Flavors the project may boot."""
    with connect(login) as cloud:
        flavors = FLAVOR.list(cloud)
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("RAM", key("ram")),
        ("Disk", key("disk")),
        ("VCPUs", key("vcpus")),
        ("Is Public", key(PUBLIC)),
        ("Properties", key("extra_specs")),
    ]
    emit(ctx, flavors, json, lambda: rows_table(columns, flavors))


@cloud_command(flavor_app, "show")
def show_flavor(
    ctx: typer.Context,
    flavor: Annotated[str, typer.Argument(metavar="NAME_OR_ID")],
    login: Login,
    json: Json = False,
) -> None:
    """One flavor with its properties (extra specs)."""
    with connect(login) as cloud:
        found = FLAVOR.find(cloud, flavor)
    emit(ctx, found, json, lambda: fields_table(found))


@cloud_command(flavor_app, "delete")
def delete_flavor(
    ctx: typer.Context,
    flavors: Annotated[list[str], typer.Argument(metavar="NAME_OR_ID...")],
    login: Login,
    json: Json = False,
) -> None:
    """Delete flavors (servers keep their copy)."""
    with connect(login) as cloud:
        gone = [FLAVOR.delete(cloud, name) for name in flavors]
    said(ctx, json, gone, "deleted " + ", ".join(f"flavor {g['name']}" for g in gone))


@cloud_command(image_app, "create")
def create_image(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    login: Login,
    disk_format: Annotated[str, typer.Option("--disk-format", metavar="FORMAT")] = "qcow2",
    container_format: Annotated[str, typer.Option("--container-format", metavar="FORMAT")] = "bare",
    public: Annotated[bool, typer.Option("--public", help="Every project may boot it.")] = False,
    properties: Properties = None,
    json: Json = False,
) -> None:
    """Register an image, e.g. with `--property hw_pci_numa_affinity_policy=preferred`."""
    extra = check.properties("--property", properties or [])
    body: dict[str, Any] = {
        **extra,
        "name": name,
        "disk_format": disk_format,
        "container_format": container_format,
    }
    if public:
        body["visibility"] = "public"
    with connect(login) as cloud:
        image = cloud.post(IMAGE.path, body)
    emit(ctx, image, json, lambda: fields_table(image))


@cloud_command(image_app, "list")
def list_images(ctx: typer.Context, login: Login, json: Json = False) -> None:
    """Images the project may boot."""
    with connect(login) as cloud:
        images = IMAGE.list(cloud)
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("Status", key("status")),
        ("Visibility", key("visibility")),
    ]
    emit(ctx, images, json, lambda: rows_table(columns, images))


@cloud_command(image_app, "show")
def show_image(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(metavar="NAME_OR_ID")],
    login: Login,
    json: Json = False,
) -> None:
    """One image with its properties."""
    with connect(login) as cloud:
        found = IMAGE.find(cloud, image)
    emit(ctx, found, json, lambda: fields_table(found))


@cloud_command(image_app, "delete")
def delete_image(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(metavar="NAME_OR_ID...")],
    login: Login,
    json: Json = False,
) -> None:
    """Delete images."""
    with connect(login) as cloud:
        gone = [IMAGE.delete(cloud, name) for name in images]
    said(ctx, json, gone, "deleted " + ", ".join(f"image {g['name']}" for g in gone))


@cloud_command(keypair_app, "create")
def create_keypair(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    public_key: Annotated[
        Path, typer.Option("--public-key", metavar="FILE", help="e.g. ~/.ssh/id_rsa.pub.")
    ],
    login: Login,
    json: Json = False,
) -> None:
    """Add your SSH public key, e.g. the talk's `stack-ssh`."""
    try:
        text = public_key.expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidInput("--public-key", f"cannot read {public_key}: {reason}") from None
    if not text:
        raise InvalidInput("--public-key", f"{public_key} is empty")
    body = {"keypair": {"name": name, "type": "ssh", "public_key": text}}
    with connect(login) as cloud:
        keypair = cloud.post(KEYPAIRS, body)["keypair"]
    emit(ctx, keypair, json, lambda: fields_table(keypair))


@cloud_command(keypair_app, "list")
def list_keypairs(ctx: typer.Context, login: Login, json: Json = False) -> None:
    """Your key pairs."""
    with connect(login) as cloud:
        keypairs = [item["keypair"] for item in cloud.get(KEYPAIRS)["keypairs"]]
    columns = [("Name", key("name")), ("Fingerprint", key("fingerprint")), ("Type", key("type"))]
    emit(ctx, keypairs, json, lambda: rows_table(columns, keypairs))


@cloud_command(keypair_app, "show")
def show_keypair(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    login: Login,
    json: Json = False,
) -> None:
    """One key pair."""
    with connect(login) as cloud:
        keypair = _keypair(cloud, name)
    emit(ctx, keypair, json, lambda: fields_table(keypair))


@cloud_command(keypair_app, "delete")
def delete_keypair(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(metavar="NAME...")],
    login: Login,
    json: Json = False,
) -> None:
    """Delete key pairs."""
    with connect(login) as cloud:
        for name in names:
            _keypair(cloud, name)
            cloud.delete(f"{KEYPAIRS}/{quote(name, safe='')}")
    said(ctx, json, names, "deleted " + ", ".join(f"key pair {n}" for n in names))


def _keypair(cloud: Cloud, name: str) -> dict[str, Any]:
    try:
        keypair: dict[str, Any] = cloud.get(f"{KEYPAIRS}/{quote(name, safe='')}")["keypair"]
    except ApiError as exc:
        if exc.status == 404:
            raise NoSuch("key pair", name) from None
        raise
    return keypair
