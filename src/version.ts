/** The generator version written into every manifest; a test keeps it equal to package.json's. */
export const GENERATOR_VERSION = '0.1.0';
