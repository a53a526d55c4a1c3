// File names of the development certificates, apart from dev-certs.ts so that
// `serve` can name them without loading the x509 library that generates them.
export const DEV_CERT_FILES = { caCert: 'ca.crt', caKey: 'ca.key', tlsCert: 'tls.crt', tlsKey: 'tls.key' } as const;
