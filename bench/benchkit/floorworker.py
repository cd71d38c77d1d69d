# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The floor of one host in the fleet measure: swap its containers one after another with the
SDK, readiness by HTTP like ours' probe. Run inside the host's network namespace (nsenter --net)
so that container addresses answer. Prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402

from benchkit.apps import Spec, floor_swap, wait_http  # noqa: E402


def main():
    socket, specs_path, image = sys.argv[1:4]
    with open(specs_path) as fh:
        specs = [Spec.from_dict(d) for d in json.load(fh)]
    api = docker.APIClient(base_url='unix://' + socket, version='auto', timeout=120)
    started = time.time()
    for spec in specs:
        res = floor_swap(api, spec, image, ready=wait_http)
        if not res['ok']:
            print(json.dumps({'ok': False, 'why': '%s: %s' % (spec.name, res['why'])}))
            return 1
    print(json.dumps({'ok': True, 'seconds': time.time() - started}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
