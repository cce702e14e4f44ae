// Check configuration
fetch('http://localhost:8080/api/status')
  .then(r => r.json())
  .then(status => {
    console.log('Enabled features:', status.configuration);
    // Ensure required data types are enabled
  });
