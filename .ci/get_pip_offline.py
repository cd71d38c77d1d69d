"""Stand-in for ansible-test's pip bootstrap script, whose download host is out of reach here.

ansible-test runs it with get-pip's arguments; ensurepip gives a pip, which then installs the
pinned pip from the package index like the real script would.
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q'] + args)
for flag, dist in (('--no-setuptools', 'setuptools'), ('--no-wheel', 'wheel')):
    if flag in sys.argv[1:]:
        subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', dist],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
