# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one config-clone function: a create request for a container on another image, built
from ``docker inspect`` of the old one, with the old image's defaults taken out so that the
new image's defaults apply.

Private: not a public API of the collection.
"""

from __future__ import annotations

import copy

from ansible_collections.patchops.containers.plugins.module_utils._deps import joined

# HostConfig keys that describe the old container's runtime, not the operator's wishes.
_HOSTCONFIG_DROP = ('ContainerIDFile',)
# Config keys that come from the image when the operator did not set them.
_IMAGE_SCALARS = ('WorkingDir', 'User', 'StopSignal')
_DEFAULT_BRIDGE = ('bridge', 'default')
# From API 1.44 a create takes every network with its own endpoint settings (a MAC address each);
# below it, one network, and the MAC address is container-wide (Config.MacAddress).
_ENDPOINTS_AT_CREATE = (1, 44)


def _image_config(image):
    return (image or {}).get('Config') or {}


def network_mode(container):
    return (container.get('HostConfig') or {}).get('NetworkMode') or 'default'


def _api_tuple(version):
    return tuple(int(p) for p in str(version or '1.41').split('.')[:2])


def _derived_mac(ip):
    """The MAC address the engine gives an endpoint that was given none (02:42 and its IPv4)."""
    try:
        return '02:42:' + ':'.join('%02x' % int(part) for part in ip.split('.'))
    except (AttributeError, ValueError):
        return None


def primary_network(container):
    mode = network_mode(container)
    name = 'bridge' if mode == 'default' else mode
    networks = (container.get('NetworkSettings') or {}).get('Networks') or {}
    if name == 'bridge' and networks and name not in networks:
        # Given its networks at create without a network mode (the Docker SDK, Podman always): the
        # mode reads "default"/"bridge" though the container is not on the default bridge. Created
        # on "bridge", the copy would be on it as well as on its networks.
        return sorted(networks)[0]
    return name


def configured_macs(container, engine_kind='docker'):
    """{network: MAC} the operator set, from either inspect shape.

    The container's own network: Config.MacAddress (every API up to 1.51 shows it). Other networks
    (a MAC each from API 1.44): inspect shows only the address in use, so one that is not the
    address the engine derives from the endpoint's IPv4 was set. An engine that picks MACs at random
    for the others (Docker 29) looks like an operator's choice there: kept, never lost.
    """
    networks = (container.get('NetworkSettings') or {}).get('Networks') or {}
    if engine_kind == 'podman':
        # Podman shows no Config.MacAddress and picks MACs at random: a MAC set at create cannot be
        # told from one it picked. Every endpoint's is kept (where the old container no longer runs).
        return dict((name, s['MacAddress']) for name, s in networks.items() if (s or {}).get('MacAddress'))
    config_mac = (container.get('Config') or {}).get('MacAddress')
    primary = primary_network(container)
    out = {}
    for name, settings in ((container.get('NetworkSettings') or {}).get('Networks') or {}).items():
        mac = (settings or {}).get('MacAddress')
        if config_mac and (name == primary or mac == config_mac):
            out[name] = config_mac
        elif name != primary and mac and mac != _derived_mac(settings.get('IPAddress')):
            out[name] = mac
    return out


def podman_addresses(container):
    """{network: IPAMConfig} of a running container on Podman, which shows no IPAMConfig: a static
    address cannot be told from an assigned one, so each endpoint's current one (kept where the old
    container no longer runs, as its MACs)."""
    out = {}
    for name, settings in ((container.get('NetworkSettings') or {}).get('Networks') or {}).items():
        ipam = dict((key, (settings or {}).get(field)) for key, field in (
            ('IPv4Address', 'IPAddress'), ('IPv6Address', 'GlobalIPv6Address')) if (settings or {}).get(field))
        if ipam:
            out[name] = ipam
    return out


def shares_netns(container):
    """The container whose network namespace this one joins (id or name), or None."""
    return joined(network_mode(container))


def _image_healthcheck(image):
    """The image's HEALTHCHECK: Config.Healthcheck on Docker. Podman's compat image inspect has none in
    Config (its config is the OCI one); Engine.find_image adds it at the top level, where Podman's own
    image inspect shows it."""
    config = _image_config(image)
    return config['Healthcheck'] if 'Healthcheck' in config else (image or {}).get('Healthcheck')


def _same_healthcheck(check, image_check):
    """Equal but for fields left at 0 (the engine's defaults), which one inspect shows and another omits."""
    def given(value):
        return dict((k, v) for k, v in (value or {}).items() if v)
    return given(check) == given(image_check)


def _subtract_env(env, image_env):
    image_env = set(image_env or [])
    return [item for item in (env or []) if item not in image_env]


def _subtract_map(values, image_values):
    image_values = image_values or {}
    return {k: v for k, v in (values or {}).items() if not (k in image_values and image_values[k] == v)}


def anonymous_volumes(container):
    """Mounts of volumes the engine named itself (not in Binds/Mounts): [(name, dest, rw)]."""
    host = container.get('HostConfig') or {}
    declared = set()
    for bind in host.get('Binds') or []:
        parts = bind.split(':')
        if len(parts) >= 2:
            declared.add(parts[1])
    for mount in host.get('Mounts') or []:
        declared.add(mount.get('Target'))
    out = []
    for mount in container.get('Mounts') or []:
        if mount.get('Type') == 'volume' and mount.get('Destination') not in declared:
            out.append((mount.get('Name'), mount.get('Destination'), bool(mount.get('RW', True))))
    return out


def _links_for_create(links, resolve=None):
    """Inspect shows '/target:/self/alias'; create wants 'target:alias'. ``resolve`` maps the target
    to the name it must have now: a legacy link follows its target's renames."""
    out = []
    for link in links or []:
        target, _sep, alias = link.partition(':')
        target = target.lstrip('/')
        name = resolve(target) if resolve else target
        out.append('%s:%s' % (name, alias.rsplit('/', 1)[-1] if alias else target))
    return out


def operator_aliases(settings, container, engine_kind='docker'):
    """A network endpoint's aliases without those the engine adds itself: the container's short and
    full ID (below API 1.44), and on Podman its host name. Whole names: an alias may begin an ID."""
    generated = [container['Id'][:12], container['Id']]
    if engine_kind == 'podman':  # Podman adds the host name to every endpoint's aliases itself
        generated.append((container.get('Config') or {}).get('Hostname'))
    return [a for a in settings.get('Aliases') or [] if a not in generated]


def _endpoint(settings, container, mac, name, engine_kind='docker', address=None):
    endpoint = {}
    ipam = settings.get('IPAMConfig') or address or {}
    ipam = {k: v for k, v in ipam.items() if v}
    if ipam:
        endpoint['IPAMConfig'] = ipam
    if name not in _DEFAULT_BRIDGE:
        aliases = operator_aliases(settings, container, engine_kind)
        if aliases:
            endpoint['Aliases'] = aliases
        links = _links_for_create(settings.get('Links'))
        if links:
            endpoint['Links'] = links
    if settings.get('DriverOpts'):
        endpoint['DriverOpts'] = settings['DriverOpts']
    if mac:
        endpoint['MacAddress'] = mac
    return endpoint


def clone(container, old_image, image_ref, resolve_container=None, api_version=None, macs=None,
          engine_kind='docker', addresses=None):
    """Return (create_body, extra_networks) for a new container of ``image_ref``.

    ``container`` is the inspect of the running one, ``old_image`` the inspect of the image it
    runs (its defaults are taken out). ``resolve_container`` maps a container reference (id,
    or a name a rename left behind) to the name it has in the plan, for ``container:`` network,
    IPC and PID modes and legacy links, so the reference survives the other one's recreation.
    ``extra_networks`` is [(network, endpoint_config)] to connect after create: the engine
    takes one network at create time on API < 1.44 (``api_version``, the one the client speaks;
    from 1.44 every network goes in the create, each with its MAC address, and none is left).
    ``macs`` is configured_macs() of the container while it ran: a stopped container's inspect
    shows no endpoint MAC address, and the swap stops it before it creates the new one.
    ``engine_kind`` podman: every network goes in the create, with its MAC (Podman takes them at
    any API version, and would add its default network to a create that names none), each with
    its address from ``addresses`` (podman_addresses() read while it ran) where Podman shows none.
    """
    config = copy.deepcopy(container.get('Config') or {})
    host = copy.deepcopy(container.get('HostConfig') or {})
    image = _image_config(old_image)

    config['Image'] = image_ref
    config['Env'] = _subtract_env(config.get('Env'), image.get('Env'))
    config['Labels'] = _subtract_map(config.get('Labels'), image.get('Labels'))
    config['Volumes'] = {k: v for k, v in (config.get('Volumes') or {}).items()
                         if k not in (image.get('Volumes') or {})} or None
    same_entrypoint = config.get('Entrypoint') == image.get('Entrypoint')
    if same_entrypoint:
        config['Entrypoint'] = None
        if config.get('Cmd') == image.get('Cmd'):
            config['Cmd'] = None
    for key in _IMAGE_SCALARS:
        if config.get(key) == image.get(key):
            config.pop(key, None)
    if _same_healthcheck(config.get('Healthcheck'), _image_healthcheck(old_image)):
        config.pop('Healthcheck', None)
    bound = set((host.get('PortBindings') or {}).keys())
    config['ExposedPorts'] = {p: v for p, v in (config.get('ExposedPorts') or {}).items()
                              if p in bound or p not in (image.get('ExposedPorts') or {})} or None
    for key in ('OnBuild', 'Shell', 'ArgsEscaped'):
        config.pop(key, None)

    mode = network_mode(container)
    # The provider's or the host's names (create refuses them): container: and host network modes, the host's
    # UTS namespace (Podman shows the host's name there, Docker the short ID).
    shared_names = mode.startswith('container:') or mode == 'host' or host.get('UTSMode') == 'host'
    if config.get('Hostname') in (container['Id'][:12], '') or shared_names:
        config.pop('Hostname', None)
        if shared_names:
            config.pop('Domainname', None)
    macs = configured_macs(container, engine_kind) if macs is None else macs
    endpoints_at_create = _api_tuple(api_version) >= _ENDPOINTS_AT_CREATE or engine_kind == 'podman'
    if endpoints_at_create:
        config.pop('MacAddress', None)  # deprecated there: on the endpoint instead
    if resolve_container is not None:
        for key in ('NetworkMode', 'IpcMode', 'PidMode'):
            ref = joined(host.get(key))
            if ref:
                host[key] = 'container:' + resolve_container(ref)

    for key in _HOSTCONFIG_DROP:
        host.pop(key, None)
    if host.get('NanoCpus') and (host.get('CpuPeriod') or host.get('CpuQuota')):
        # Podman shows a CPU limit both ways (NanoCpus beside the period and quota it stands for, whichever
        # was given) and refuses both in a create; Docker shows only the one given. Period and quota are exact.
        host.pop('NanoCpus')
    anon = anonymous_volumes(container)
    if anon:
        binds = list(host.get('Binds') or [])
        binds.extend('%s:%s%s' % (name, dest, '' if rw else ':ro') for name, dest, rw in anon)
        host['Binds'] = binds
    if host.get('Links'):
        host['Links'] = _links_for_create(host['Links'], resolve_container)

    networks = ((container.get('NetworkSettings') or {}).get('Networks') or {})
    primary = None
    extra = []
    if not (mode.startswith('container:') or mode in ('host', 'none')):
        primary_name = primary_network(container)
        ordered = sorted(networks.items(), key=lambda kv: (kv[0] != primary_name, kv[0]))
        for name, settings in ordered:
            # Below 1.44 the engine ignores an endpoint's MAC: Config.MacAddress carries the primary's.
            endpoint = _endpoint(settings or {}, container, macs.get(name) if endpoints_at_create else None, name,
                                 engine_kind, (addresses or {}).get(name))
            if primary is None and name == primary_name:
                primary = {name: endpoint}
            elif endpoints_at_create and primary is not None:
                primary[name] = endpoint
            else:
                extra.append((name, endpoint))
    body = {k: v for k, v in config.items() if v is not None}
    body['HostConfig'] = host
    if primary:
        body['NetworkingConfig'] = {'EndpointsConfig': primary}
    return body, extra


def pinned_identity(container, engine_kind='docker'):
    """What makes start-first unsafe: host ports, static IPs, a fixed MAC (clash with the old one).

    On Podman a set MAC cannot be told from a random one: not counted (start-first gives the new
    container new MACs)."""
    reasons = []
    host = container.get('HostConfig') or {}
    for port, bindings in (host.get('PortBindings') or {}).items():
        if any((b or {}).get('HostPort') for b in bindings or []):
            reasons.append('publishes host port(s) for %s' % port)
    if host.get('PublishAllPorts'):
        reasons.append('publishes all ports')
    for name, settings in ((container.get('NetworkSettings') or {}).get('Networks') or {}).items():
        ipam = (settings or {}).get('IPAMConfig') or {}
        if ipam.get('IPv4Address') or ipam.get('IPv6Address'):
            reasons.append('has a static IP on network %s' % name)
    macs = configured_macs(container) if engine_kind != 'podman' else {}
    for name in sorted(macs):
        reasons.append('has a fixed MAC address on network %s' % name)
    if (container.get('Config') or {}).get('MacAddress') and not macs:
        reasons.append('has a fixed MAC address')
    mode = network_mode(container)
    if mode == 'host' or mode.startswith('container:'):
        reasons.append('network mode %s' % mode)
    if host.get('AutoRemove'):
        reasons.append('is started with --rm')
    return reasons


def writable_storage(container):
    """Volumes and binds mounted read-write: two instances at once could corrupt their data."""
    return [m.get('Destination') for m in container.get('Mounts') or []
            if m.get('RW', True) and m.get('Type') in ('volume', 'bind')]
