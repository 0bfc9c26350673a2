module.exports = { ...require('../../jest.preset.js'), rootDir: __dirname, testTimeout: 90_000, maxWorkers: 1 };
