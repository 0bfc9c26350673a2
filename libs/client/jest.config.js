module.exports = { ...require('../../jest.preset.js'), rootDir: __dirname, testTimeout: 120_000 };
