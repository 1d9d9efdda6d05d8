'''
Make a cert dir with the reference's own certificate code (synapse.lib.certdir), as
`easycert` would: a CA "testca", a host cert "testhost", and user certs "visi" and
"visi@testhost", all signed by the CA.

    python make_certs.py <dir>
'''
import sys

import synapse.lib.certdir as s_certdir

def main(path):
    cdir = s_certdir.CertDir(path=path)
    cdir.crypto_numbits = 2048  # the reference uses 4096; smaller is faster for tests
    cdir.genCaCert('testca')
    cdir.genHostCert('testhost', signas='testca')
    cdir.genUserCert('visi', signas='testca')
    cdir.genUserCert('visi@testhost', signas='testca')
    cdir.genUserCert('root', signas='testca')

if __name__ == '__main__':
    main(sys.argv[1])
